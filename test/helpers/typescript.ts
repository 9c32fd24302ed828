// The TypeScript compiler API for tests, loaded with require(): imported as
// an ES module, Node first scans typescript.js (9 MB of CommonJS) with
// cjs-module-lexer for its named exports, ~0.6 s of CPU in every process that
// loads it. Types: `import type TS from 'typescript'`.
import { createRequire } from 'node:module';
import type TS from 'typescript';

export const ts = createRequire(import.meta.url)('typescript') as typeof TS;
