// `rnnx quickstart` (npm run quickstart): trains the airline-passengers forecaster from the
// shipped CSV and config, exports it, predicts with onnxruntime-node, prints its one-step-ahead
// RMSE on the last 24 months beside the persistence and seasonal-naive baselines, and writes a
// plot of history, backtest and a two-year forecast, then serves the exported file over HTTP on
// loopback and checks that the served backtest (one concurrent request per month, merged by the
// dynamic batcher) gives the same predictions.

import { join, resolve } from 'node:path';
import { packageRoot } from '../package-root.js';
import { InferenceModel, type RunInput, type RunOptions, type RunResult } from '../../runtime/inference.js';
import { startServer } from '../../serve/http.js';
import { loadCsvSeries } from '../../data/timeseries.js';
import { readConfig } from '../config.js';
import { backtest, forecastInfo, type ForecastRunner, naiveForecasts, recursiveForecast, rmse } from '../forecast.js';
import { writeOutput } from '../output.js';
import { linePlot } from '../svg.js';
import train from './train.js';
import exportCommand from './export.js';

export { packageRoot } from '../package-root.js';

export default async function quickstart(argv: Record<string, unknown>): Promise<void> {
  const t0 = Date.now();
  const root = packageRoot();
  const configPath = join(root, 'models', 'airline', 'config.json');
  const outDir = resolve(String(argv.out ?? 'quickstart-output'));
  const trained = join(outDir, 'airline.onnx');
  const exported = join(outDir, 'airline-export.onnx');
  const plot = join(outDir, 'airline-forecast.svg');
  const say = (s: string) => process.stdout.write(s + '\n');

  say(`1/5 training the airline forecaster (${configPath})`);
  await train({ config: configPath, out: trained, log: join(outDir, 'airline.log.json'), plot: join(outDir, 'airline.loss.svg'), quiet: true, ...(argv.epochs !== undefined ? { epochs: argv.epochs } : {}) });

  say(`2/5 exporting ${exported} (opset 14, with sequence_lens)`);
  exportCommand({ model: trained, out: exported, 'sequence-lens': true, opset: 14 });

  say('3/5 predicting with onnxruntime-node');
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

  say(`\n4/5 writing ${plot}`);
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

  say('\n5/5 serving the exported model over HTTP on 127.0.0.1');
  const server = await startServer({ modelPath: exported, port: 0, host: '127.0.0.1', providers: ['cpu'], handleSignals: false, log: () => {} });
  let served: { maxAbsDiff: number; requests: number; url: string };
  try {
    const viaHttp = await backtest(httpRunner(server.url), series, info, testRows, norms);
    let maxAbsDiff = 0;
    for (let i = 0; i < bt.predicted.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(viaHttp.predicted[i] - bt.predicted[i]));
    served = { maxAbsDiff, requests: testRows, url: server.url };
  } finally {
    await server.close();
  }
  say(`  ${served.requests} concurrent POST ${served.url}/v1/predict requests: served predictions differ from the direct ones by at most ${served.maxAbsDiff.toExponential(2)}`);
  if (!(served.maxAbsDiff <= 1e-3)) throw new Error(`the served model disagrees with onnxruntime-node by ${served.maxAbsDiff} (thousands of passengers)`);

  const seconds = (Date.now() - t0) / 1000;
  writeOutput(join(outDir, 'summary.json'), JSON.stringify({ testRows, rmse: scores, forecast24: Array.from(future), served, seconds }, null, 2) + '\n');
  say(`done in ${seconds.toFixed(1)}s (files in ${outDir})`);
}

/**
 * A ForecastRunner that sends each sequence of a batch as its own concurrent POST /v1/predict,
 * so that the server's dynamic batcher, not the client, merges them.
 */
function httpRunner(url: string): ForecastRunner {
  return {
    async run(x: RunInput, options: RunOptions = {}): Promise<RunResult> {
      const flat = x instanceof Float32Array ? x : Float32Array.from(x.flat(2));
      const batch = options.batch ?? 1;
      const time = options.time ?? 1;
      const features = flat.length / (batch * time);
      const outputs = await Promise.all(
        Array.from({ length: batch }, async (_, n) => {
          const input = Array.from({ length: time }, (_, t) => Array.from(flat.subarray((n * time + t) * features, (n * time + t + 1) * features)));
          const res = await fetch(`${url}/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input, raw: true }) }); // model-space windows: the forecast code does the units
          const body = (await res.json()) as { output?: number[] | number[][]; dims?: number[]; error?: { message: string } };
          if (!res.ok || !body.output || !body.dims) throw new Error(`POST ${url}/v1/predict answered ${res.status}: ${body.error?.message ?? 'no output'}`);
          return { output: (body.output as number[]).flat(), dims: body.dims };
        }),
      );
      const perRow = outputs[0].output.length;
      const y = new Float32Array(batch * perRow);
      outputs.forEach((o, n) => y.set(o.output, n * perRow));
      return { y, dims: [batch, ...outputs[0].dims] };
    },
  };
}
