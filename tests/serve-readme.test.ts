// The README's serving examples run as written: `rnnx serve models/airline/airline.onnx` runs as a
// child process (the CLI itself), and every `curl` line of the README's real-units block is
// parsed (method, headers, body, URL; only the port is changed) and sent; the status must be the
// one written after `# →` on the next line.

import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { startServerChild } from './serve-helpers.js';

/** Splits a shell command line into words, honouring '...' and "..." quoting (enough for the README). */
function shellWords(line: string): string[] {
  const words: string[] = [];
  const re = /'([^']*)'|"((?:[^"\\]|\\.)*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line))) words.push(m[1] ?? m[2]?.replace(/\\(.)/g, '$1') ?? m[3]);
  return words;
}

interface Example {
  line: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
  status: number;
}

function readmeExamples(): Example[] {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const start = readme.indexOf('**Real units.**');
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(start));
  if (start < 0 || !block) throw new Error('README: the real-units curl block is missing');
  const lines = block[1].trim().split('\n');
  const out: Example[] = [];
  lines.forEach((line, i) => {
    if (!line.startsWith('curl ')) return;
    const status = /^# → (\d{3})/.exec(lines[i + 1] ?? '');
    if (!status) throw new Error(`README: no "# → status" line after ${line}`);
    const words = shellWords(line).slice(1);
    const ex: Example = { line, method: 'GET', url: '', headers: {}, status: Number(status[1]) };
    for (let k = 0; k < words.length; k++) {
      const w = words[k];
      if (w === '-s') continue;
      else if (w === '-X') ex.method = words[++k];
      else if (w === '-H') {
        const [name, ...rest] = words[++k].split(':');
        ex.headers[name.trim().toLowerCase()] = rest.join(':').trim();
      } else if (w === '-d') {
        ex.body = words[++k];
        if (ex.method === 'GET') ex.method = 'POST';
      } else if (w.startsWith('-')) throw new Error(`README example uses a curl flag this test does not know: ${w}`);
      else ex.url = w;
    }
    out.push(ex);
  });
  return out;
}

it('every curl example of the README answers the status it shows, against `rnnx serve models/airline/airline.onnx`', async () => {
  const examples = readmeExamples();
  expect(examples.length).toBeGreaterThanOrEqual(8);
  const { child, url: listening } = startServerChild(['serve', 'models/airline/airline.onnx', '--port', '0', '--workers', '1', '--threads', '1'], { entry: 'src/cli/main.ts' });
  try {
    const url = await listening;
    const port = new URL(url).port;
    for (const ex of examples) {
      expect(ex.url, ex.line).toMatch(/^localhost:8080\//);
      const r = await fetch(`http://127.0.0.1:${port}${ex.url.slice('localhost:8080'.length)}`, { method: ex.method, headers: ex.headers, body: ex.body });
      const text = await r.text();
      expect(r.status, `${ex.line}\n→ ${text.slice(0, 300)}`).toBe(ex.status);
    }
  } finally {
    child.kill('SIGKILL');
  }
}, 60_000);
