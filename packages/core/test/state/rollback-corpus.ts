/** Every layout daemon.json is found in; rollback must give back these exact bytes.
 * Shared by the core tests and the CLI's (which spawn the built binary on the same files). */
export const ROLLBACK_CORPUS: Record<string, string> = {
  tabs: '{\n\t"debug": true,\n\t"registry-mirrors": [\n\t\t"https://a.example"\n\t]\n}\n',
  fourSpaces: '{\n    "debug": true,\n    "log-level": "info"\n}\n',
  crlf: '{\r\n  "debug": true,\r\n  "insecure-registries": ["10.0.0.5:5000"]\r\n}\r\n',
  bom: '\uFEFF{\n  "debug": true\n}\n',
  noFinalNewline: '{\n  "debug": true\n}',
  minified: '{"debug":true,"registry-mirrors":["https://a.example"],"log-opts":{"max-size":"10m"}}',
  unicode: '{\n  "labels": ["café=crème", "whale=🐳", "jp=日本"],\n  "debug": false\n}\n',
  bomCrlfNoNewline: '\uFEFF{\r\n\t"debug": true\r\n}',
  empty: '',
  emptyObject: '{}',
};
