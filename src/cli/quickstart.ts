// `rnnx quickstart` (npm run quickstart): trains the airline-passengers forecaster from the
// shipped CSV and config, exports it, predicts with onnxruntime-node, prints its one-step-ahead
// RMSE on the last 24 months beside the persistence and seasonal-naive baselines, and writes a
// plot of history, backtest and a two-year forecast.

import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InferenceModel } from '../runtime/inference.js';
import { loadCsvSeries } from '../data/timeseries.js';
import { readConfig } from './config.js';
import { backtest, forecastInfo, naiveForecasts, recursiveForecast, rmse } from './forecast.js';
import { writeOutput } from './output.js';
import { linePlot } from './svg.js';
import train from './train.js';
import exportCommand from './export.js';

/** The package root (where package.json is), from src/cli or dist/src/cli alike. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the rnnx package root (package.json) above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

export default async function quickstart(argv: Record<string, unknown>): Promise<void> {
  const t0 = Date.now();
  const root = packageRoot();
  const configPath = join(root, 'models', 'airline', 'config.json');
  const outDir = resolve(String(argv.out ?? 'quickstart-output'));
  const trained = join(outDir, 'airline.onnx');
  const exported = join(outDir, 'airline-export.onnx');
  const plot = join(outDir, 'airline-forecast.svg');
  const say = (s: string) => process.stdout.write(s + '\n');

  say(`1/4 training the airline forecaster (${configPath})`);
  await train({ config: configPath, out: trained, log: join(outDir, 'airline.log.json'), plot: join(outDir, 'airline.loss.svg'), quiet: true, ...(argv.epochs !== undefined ? { epochs: argv.epochs } : {}) });

  say(`2/4 exporting ${exported} (opset 14, with sequence_lens)`);
  exportCommand({ model: trained, out: exported, 'sequence-lens': true, opset: 14 });

  say('3/4 predicting with onnxruntime-node');
  const session = await InferenceModel.open(exported, { providers: ['cpu'] });
  const cfg = readConfig(configPath);
  const info = forecastInfo(session.metadata?.extra)!;
  const series = loadCsvSeries(cfg.data.path, { columns: info.inputColumns });
  const testRows = Number((cfg.data as { testRows?: number }).testRows ?? 24);
  const norms = { input: session.metadata?.inputNormalization, target: session.metadata?.targetNormalization };
  const bt = await backtest(session, series, info, testRows, norms);
  const naive = naiveForecasts(series, 0, bt.rows, 12);
  const future = await recursiveForecast(session, series, info, 24, norms);
  await session.release();
  const scores = {
    model: rmse(bt.predicted, bt.actual),
    persistence: rmse(naive.persistence, bt.actual),
    seasonal: rmse(naive.seasonal, bt.actual),
  };
  say(`\none-step-ahead RMSE on the last ${testRows} months (thousands of passengers):`);
  const arch = cfg.model.layers.map((l) => `${(l as { kind: string }).kind}(${(l as { units: unknown }).units})`).join('→');
  const rows: [string, number][] = [
    [`rnnx ${arch}, ${info.transform} input`, scores.model],
    ['persistence (last value)', scores.persistence],
    ['seasonal naive (12 months earlier)', scores.seasonal],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  for (const [name, v] of rows) say(`  ${name.padEnd(w)}  ${v.toFixed(2).padStart(7)}`);
  say(scores.model < Math.min(scores.persistence, scores.seasonal) ? '  → the model beats both baselines' : '  → the model does NOT beat both baselines');

  say(`\n4/4 writing ${plot}`);
  const hist = Array.from(series.values);
  const n = series.rows;
  writeOutput(
    plot,
    linePlot(
      [
        { name: 'passengers', y: hist },
        { name: `one-step predictions (last ${testRows})`, x: bt.rows, y: Array.from(bt.predicted) },
        { name: '24-month forecast', x: [n - 1, ...Array.from({ length: 24 }, (_, i) => n + i)], y: [hist[n - 1], ...Array.from(future)], dashed: true },
      ],
      { title: 'Airline passengers: rnnx forecaster', xLabel: 'month since Jan 1949', yLabel: 'thousands of passengers', markerX: n - testRows - 0.5 },
    ),
  );
  const seconds = (Date.now() - t0) / 1000;
  writeOutput(join(outDir, 'summary.json'), JSON.stringify({ testRows, rmse: scores, forecast24: Array.from(future), seconds }, null, 2) + '\n');
  say(`done in ${seconds.toFixed(1)}s (files in ${outDir})`);
}
