// ESLint flat config: typescript-eslint's recommended rules on every source
// folder (src, test, bench, bin, docs/examples). Formatting is Prettier's:
// eslint-config-prettier, last, turns off the rules that would fight it.
// `npm run lint` runs ESLint and `prettier --check`.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // Built, fetched or generated: docs/codegen holds `bpf-ts gen` output that
  // test/gen compares byte for byte with what the generator prints.
  { ignores: ['dist/', 'node_modules/', 'fixtures/', 'bpf/', 'bench/build/', 'test/.gen/', 'docs/codegen/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: 'module', globals: { ...globals.node } },
    rules: {
      // A leading underscore marks a name kept on purpose: `using _guard = …`
      // (held for its dispose), a compile-time check type, an ignored parameter.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  {
    // The library takes Node's built-ins with process.getBuiltinModule: an
    // ES module import of one builds its ESM facade, which reads every export
    // (node:fs's loads its promises API and streams): ~5 ms for node:fs, ~4
    // for node:zlib, ~3 for node:url of every `import 'bpf-ts'`. Types only
    // are fine. (The CLI is bundled as CommonJS, where a built-in costs nothing.)
    files: ['src/**'],
    ignores: ['src/cli/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: [{ group: ['node:*'], allowTypeImports: true, message: "use process.getBuiltinModule('node:…') (see eslint.config.js)" }] }],
    },
  },
  {
    // Tests read JSON from ip -j, tc -j, bpftool and our own --json output and
    // assert on its values; typing each foreign shape would add no check.
    files: ['test/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // CommonJS child scripts (spawned by tests) and the bin (bin/package.json
    // says "commonjs": see bin/bpf-ts.js): require() is how they import.
    files: ['**/*.cjs', 'bin/*.js'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  prettier,
);
