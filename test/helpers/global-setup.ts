// vitest globalSetup: build dist/ (when missing or older than src/) once, in
// the main process, before any test file starts. Test files still call
// ensureDist() themselves (a single file run stays correct); with files in
// parallel they then find it fresh instead of running tsc side by side over
// the same output directory.
import { ensureDist } from './dist.js';

export default function setup(): void {
  // Node 20 reads and parses every certificate of NODE_EXTRA_CA_CERTS when a
  // process starts, whether it ever opens a TLS connection or not: with the
  // 220 KB system bundle some hosts point it at, that is ~80 ms of CPU per
  // start, as much as the rest of a CLI run. No test makes a TLS connection,
  // and the suite starts hundreds of node processes (workers, CLI children, docs
  // blocks), which inherit the environment from here.
  delete process.env.NODE_EXTRA_CA_CERTS;
  ensureDist();
}
