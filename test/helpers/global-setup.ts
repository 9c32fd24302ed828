// vitest globalSetup: build dist/ (when missing or older than src/) once, in
// the main process, before any test file starts. Test files still call
// ensureDist() themselves (a single file run stays correct); with files in
// parallel they then find it fresh instead of running tsc side by side over
// the same output directory.
import { ensureDist } from './dist.js';

export default function setup(): void {
  ensureDist();
}
