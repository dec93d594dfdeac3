// `--providers` is one option on every command that runs ONNX Runtime (predict, generate, bench,
// serve) and on the stand-alone server: same name, same accepted values, same parser, same help
// text. Checked through the real yargs parser (buildParser), not by calling the parser directly.
// Also: `--device` of `rnnx train` offers 'cuda-emulated'. In process (no child): StrykerJS runs it.

import yargs from 'yargs';
import { describe, expect, it } from 'vitest';
import { buildParser } from '../src/cli/app.js';
import { providersArg } from '../src/cli/providers.js';
import { configSchema } from '../src/cli/config.js';
import { configFromArgs } from '../src/cli/commands/train.js';
import { PROVIDER_NAMES, parseProviderList } from '../src/runtime/providers.js';
import { parseServeArgs } from '../src/serve/main.js';
import { runCliCaptured } from './serve-helpers.js';

/** Each command with the arguments it needs besides --providers. */
const COMMANDS: Record<string, string[]> = {
  predict: ['predict', 'm.onnx', '-i', 'x.csv'],
  generate: ['generate', 'm.onnx'],
  bench: ['bench', 'm.onnx'],
  serve: ['serve', 'm.onnx'],
};

/** The argv a command's handler would get (the handler itself is not run). */
async function parsed(args: string[]): Promise<Record<string, unknown>> {
  let argv: Record<string, unknown> | null = null;
  await buildParser(yargs(args), () => (a) => {
    argv = a;
  }).parseAsync();
  if (!argv) throw new Error(`no handler ran for ${args.join(' ')}`);
  return argv;
}

/** What yargs rejects the arguments with (before any handler runs). */
async function rejection(args: string[]): Promise<string> {
  try {
    await buildParser(yargs(args), () => () => {
      throw new Error('the handler ran');
    }).parseAsync();
  } catch (e) {
    return (e as Error).message;
  }
  return 'accepted';
}

/** A command's --help text. */
async function help(args: string[]): Promise<string> {
  let text = '';
  const parser = buildParser(yargs(), () => () => {});
  await new Promise<void>((done) => {
    parser.parse([...args, '--help'], {}, (_err: unknown, _argv: unknown, output: string) => {
      text = output;
      done();
    });
  });
  return text;
}

const EXPECTED_ERROR = `--providers must be one or more of ${PROVIDER_NAMES.join(', ')}, separated by commas, got "gpu"`;

describe('--providers on every command', () => {
  for (const [name, args] of Object.entries(COMMANDS)) {
    it(`${name}: parses the list in order, trims spaces, drops repeats; cpu when absent`, async () => {
      expect(providersArg(await parsed([...args, '--providers', 'webgpu, cuda,cpu,cuda']))).toEqual(['webgpu', 'cuda', 'cpu']);
      expect(providersArg(await parsed([...args, '--providers=cuda']))).toEqual(['cuda']);
      // A repeated flag adds to the list.
      expect(providersArg(await parsed([...args, '--providers', 'cuda', '--providers', 'cpu']))).toEqual(['cuda', 'cpu']);
      expect(providersArg(await parsed(args))).toEqual(['cpu']);
    });

    it(`${name}: a bad name is refused by the parser with the flag, the value and the choices`, async () => {
      expect(await rejection([...args, '--providers', 'cpu,gpu'])).toBe(EXPECTED_ERROR);
      expect(await rejection([...args, '--providers', ' , '])).toMatch(/^--providers must be one or more of cpu, cuda, .*, got " , "$/);
    });
  }

  it('the help text of --providers is the same on every command, lists every provider and hides the old spelling', async () => {
    const lines = await Promise.all(Object.keys(COMMANDS).map(async (c) => {
      const h = await help([c]);
      expect(h, c).not.toMatch(/--provider\b(?!s)/);
      // yargs wraps the description to a width that depends on the command's other options.
      const from = h.indexOf('--providers');
      return h.slice(from, h.indexOf('[string]', from) + '[string]'.length).replace(/\s+/g, ' ');
    }));
    expect(new Set(lines).size).toBe(1);
    for (const p of PROVIDER_NAMES) expect(lines[0]).toContain(p);
    expect(lines[0]).toContain('default: cpu');
  });

  it('the old --provider spelling of predict and serve still works, parsed alike', async () => {
    expect(providersArg(await parsed([...COMMANDS.predict, '--provider', 'cuda,cpu']))).toEqual(['cuda', 'cpu']);
    expect(providersArg(await parsed([...COMMANDS.serve, '--provider', 'webgpu']))).toEqual(['webgpu']);
    expect(await rejection([...COMMANDS.serve, '--provider', 'gpu'])).toBe(EXPECTED_ERROR.replace('--providers', '--provider'));
  });

  it('through runCli: exit 1 and one line naming the flag, the value and the choices', async () => {
    const r = await runCliCaptured(['predict', 'models/airline/airline.onnx', '-i', 'models/data/airline-passengers.csv', '--providers', 'gpu']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`rnnx: ${EXPECTED_ERROR} (see rnnx predict --help)\n`);
  });

  it('the stand-alone server (src/serve/main.ts) uses the same parser', () => {
    expect(parseServeArgs(['m.onnx', '--providers', 'cuda, cpu']).providers).toEqual(['cuda', 'cpu']);
    expect(parseServeArgs(['m.onnx']).providers).toBeUndefined();
    expect(() => parseServeArgs(['m.onnx', '--providers', 'gpu'])).toThrow(EXPECTED_ERROR);
  });

  it('parseProviderList: arrays (repeated flags) and strings alike; nothing at all is refused', () => {
    expect(parseProviderList(['cuda', 'cpu,webgpu'])).toEqual(['cuda', 'cpu', 'webgpu']);
    expect(parseProviderList('cpu')).toEqual(['cpu']);
    expect(() => parseProviderList('')).toThrow(/^--providers must be one or more of .*, got ""$/);
    expect(() => parseProviderList(undefined, '--x')).toThrow(/^--x must be/);
  });
});

describe('--device of rnnx train', () => {
  const base = ['train', '--data', 'models/data/airline-passengers.csv', '--layers', 'lstm:4,dense:1', '--window', '12', '-o', 'out/device.onnx'];

  it("offers cuda-emulated beside cpu, cuda and auto, in help and in the config schema", async () => {
    const h = (await help(['train'])).replace(/\s+/g, ' ');
    const device = h.slice(h.indexOf('--device'), h.indexOf('[training.device]'));
    for (const d of ['cpu', 'cuda (', 'cuda-emulated', 'auto']) expect(device).toContain(d);
    expect(JSON.stringify(configSchema().schema)).toMatch(/"device":\{"enum":\["cpu","cuda","cuda-emulated","auto"\]/);
  });

  it('the parser passes it through to the config, which validates; other names are refused naming the flag', async () => {
    // configFromArgs validates the config against the schema.
    const { config } = configFromArgs(await parsed([...base, '--device', 'cuda-emulated']));
    expect(config.training.device).toBe('cuda-emulated');
    const bad = await parsed([...base, '--device', 'gpu']);
    expect(() => configFromArgs(bad)).toThrow(/--device/);
    expect(() => configFromArgs(bad)).toThrow(/cuda-emulated/);
  });
});
