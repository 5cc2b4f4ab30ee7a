/**
 * daemon.json files as people really write them. Every edit test runs over all of them; each one is here for a
 * layout detail an editor could get wrong (the name says which).
 */

export interface CorpusFile {
  name: string;
  bytes: Buffer;
}

const BOM = '\uFEFF';
const crlf = (text: string) => text.replace(/\r?\n/g, '\r\n');

const typical = `{
  "log-driver": "json-file",
  "log-opts": {
    "max-size": "10m",
    "max-file": "3"
  },
  "storage-driver": "overlay2",
  "live-restore": true
}
`;

const manyKeys = `{
    "hosts": ["unix:///var/run/docker.sock", "tcp://127.0.0.1:2376"],
    "default-address-pools": [
        {"base": "172.80.0.0/16", "size": 24},
        {
            "base": "172.90.0.0/16",
            "size": 24
        }
    ],
    "runtimes": {
        "nvidia": {
            "path": "nvidia-container-runtime",
            "runtimeArgs": []
        },
        "runsc": {"path": "/usr/local/bin/runsc", "runtimeArgs": ["--platform=ptrace"]}
    },
    "registry-mirrors": [
        "https://mirror.gcr.io"
    ],
    "exec-opts": ["native.cgroupdriver=systemd"],
    "insecure-registries": ["10.0.0.0/8", "registry.local:5000"],
    "features": {"buildkit": true},
    "log-opts": {"labels": "registry-mirrors", "tag": "{{.Name}}"},
    "default-ulimits": {"nofile": {"Name": "nofile", "Hard": 64000, "Soft": 64000}},
    "max-concurrent-downloads": 10,
    "debug": false
}
`;

function bigFile(): string {
  const labels = Array.from({ length: 16000 }, (_, i) => `    "com.example.team-${String(i).padStart(5, '0')}=owner-${(i * 7919) % 100003}"`);
  const runtimes = Array.from(
    { length: 2600 },
    (_, i) => `    "rt-${i}": {\n      "path": "/opt/runtimes/rt-${i}/bin/runc",\n      "runtimeArgs": ["--debug", "--log=/var/log/rt-${i}.log"]\n    }`,
  );
  return `{\n  "labels": [\n${labels.join(',\n')}\n  ],\n  "runtimes": {\n${runtimes.join(',\n')}\n  },\n  "debug": true\n}\n`;
}

const texts: Array<[string, string]> = [
  ['tabs', `{\n\t"debug": true,\n\t"log-opts": {\n\t\t"max-size": "10m"\n\t}\n}\n`],
  ['two spaces', typical],
  ['four spaces', typical.replace(/^( +)/gm, (m) => m + m)],
  [
    'odd mix of tabs and spaces',
    `{\n  "debug": true,\n\t"labels": ["a=1",\n      "b=2"],\n    "log-opts" :  {"max-size":"1m"}  ,\n \t"live-restore": false\n}\n`,
  ],
  ['crlf', crlf(typical)],
  ['crlf with bom', BOM + crlf(typical)],
  ['bom', BOM + typical],
  ['no final newline', typical.trimEnd()],
  ['crlf without final newline', crlf(typical).trimEnd()],
  ['trailing whitespace', `{  \n  "debug": true,   \n  "log-level": "warn"\t\n}  \n\n   `],
  ['minified', '{"a":1}'],
  ['minified with final newline', '{"debug":true,"log-opts":{"max-size":"10m"}}\n'],
  ['one line with spaces', '{ "debug": true, "labels": ["a=1", "b=2"] }'],
  ['empty object', '{}'],
  ['empty object with newline', '{}\n'],
  ['empty object with spaces inside', '{ }'],
  ['empty object over lines', '{\n}\n'],
  ['empty object crlf with bom', `${BOM}{\r\n}\r\n`],
  ['empty file', ''],
  ['whitespace only', '  \n\t\n'],
  ['whitespace only crlf', '\r\n\r\n'],
  ['bom only', BOM],
  [
    'unicode and escapes',
    `{\n  "labels": ["owner=\\u00e9milie", "site=café", "url=https:\\/\\/example.com\\/x", "q=\\"x\\"", "emoji=\\ud83d\\ude00 😀", "tab=\\t"],\n  "data-root": "/srv/dockér",\n  "bip": "192.168.200.1/24"\n}\n`,
  ],
  ['unicode key names', `{\n  "étiquette": "ünïcödé",\n  "\\u0061bc": 1,\n  "日本": ["東京"]\n}\n`],
  ['many keys in odd order', manyKeys],
  ['compact inline arrays', `{\n  "registry-mirrors": ["https://a.example.com","https://b.example.com"],\n  "insecure-registries": ["a.example.com:5000"],\n  "debug": true\n}\n`],
  ['inline arrays with spaces', `{\n  "registry-mirrors": [ "https://a.example.com", "https://b.example.com" ],\n  "debug": true\n}\n`],
  ['empty mirror lists', `{\n  "registry-mirrors": [],\n  "insecure-registries": [],\n  "debug": true\n}\n`],
  ['empty mirror lists, one line', '{"registry-mirrors":[],"insecure-registries":[]}'],
  [
    'existing mirrors, multi-line',
    `{\n  "insecure-registries": [\n    "10.1.2.3:5000"\n  ],\n  "debug": true,\n  "registry-mirrors": [\n    "https://mirror.gcr.io",\n    "https://registry.example.org/"\n  ]\n}\n`,
  ],
  ['existing mirrors first key, tabs, crlf', crlf(`{\n\t"registry-mirrors": [\n\t\t"https://mirror.gcr.io"\n\t],\n\t"debug": true\n}\n`)],
  ['mirrors with closing bracket on the item line', `{\n  "registry-mirrors": [\n    "https://a.example.com",\n    "https://b.example.com"],\n  "debug": true\n}\n`],
  ['mirror keys nested elsewhere', `{\n  "log-opts": {\n    "registry-mirrors": "not the daemon's"\n  },\n  "labels": ["insecure-registries=none"]\n}\n`],
  ['mirror key spelled with an escape', '{"registry\\u002dmirrors": ["https://a.example"], "debug": true}\n'],
  ['old Mac line endings (CR only)', '{\r  "debug": true,\r  "insecure-registries": ["10.0.0.0/8"]\r}\r'],
  ['big file (~1 MB)', bigFile()],
];

/** The corpus, as file bytes. */
export const corpus: CorpusFile[] = texts.map(([name, text]) => ({ name, bytes: Buffer.from(text, 'utf8') }));
