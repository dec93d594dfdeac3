// `npm run bench -- <name>`: runs one benchmark (or all) and writes JSON under bench-results/.
// Each benchmark module exports `run(args: string[]): Promise<void>`.
const suites: Record<string, string> = {
  train: './train.ts',
  infer: './infer.ts',
  serve: './serve.ts',
  gemm: './gemm.ts',
};

const [name = 'all', ...rest] = process.argv.slice(2);
const names = name === 'all' ? Object.keys(suites) : [name];
for (const n of names) {
  const path = suites[n];
  if (!path) {
    console.error(`unknown benchmark ${JSON.stringify(n)}; known: ${Object.keys(suites).join(', ')}, all`);
    process.exit(1);
  }
  const mod = (await import(path)) as { run: (args: string[]) => Promise<void> };
  await mod.run(rest);
}
