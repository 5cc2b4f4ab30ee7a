// vitest setup file (both projects): each test file runs with a temp HOME and no host Docker or dockmirror
// variables; see hermetic.ts.
import { afterAll } from 'vitest';
import { isolateProcess } from './hermetic.js';

const { restore } = isolateProcess();
afterAll(restore);
