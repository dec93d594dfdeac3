// `--providers`, the one definition every command that runs ONNX Runtime shares (predict,
// generate, bench, serve): same name, values, parser and help text.

import type { Options } from 'yargs';
import { UserError } from '../data/errors.js';
import { parseProviderList, PROVIDER_NAMES, type ProviderName } from '../runtime/providers.js';

/** What a command uses when --providers is not given. */
export const CLI_DEFAULT_PROVIDERS: readonly ProviderName[] = ['cpu'];

/**
 * The yargs option. No yargs default: the handler's `providersArg` applies it, so that the
 * deprecated `--provider` spelling (hidden, kept for old scripts) can still be told apart.
 */
export const PROVIDERS_OPTION: Options = {
  type: 'string',
  describe: `Execution providers in order of preference, comma-separated (${PROVIDER_NAMES.join(', ')}); a provider that cannot load or would compute the graph wrongly is skipped, CPU is always the last resort (default: ${CLI_DEFAULT_PROVIDERS.join(',')})`,
  coerce: (v: unknown) => parseProviderList(v, '--providers'),
};

/** `--provider`, the old spelling of predict and serve: hidden from help, parsed alike. */
export const OLD_PROVIDER_OPTION: Options = {
  type: 'string',
  hidden: true,
  coerce: (v: unknown) => parseProviderList(v, '--provider'),
};

/** The providers a handler runs on, from the parsed arguments (or from a caller that skipped the parser). */
export function providersArg(argv: Record<string, unknown>): ProviderName[] {
  const [flag, v] = argv.providers !== undefined ? ['--providers', argv.providers] : ['--provider', argv.provider];
  if (v === undefined) return [...CLI_DEFAULT_PROVIDERS];
  try {
    return parseProviderList(v, flag);
  } catch (e) {
    throw new UserError((e as Error).message, { cause: e });
  }
}
