#!/usr/bin/env bash
# The README's forecasting results table: for each public series, `rnnx init` writes a config
# with its defaults and `rnnx train` trains it; the held-out table of each log becomes one row.
# Everything is written under out/forecast-table/ (never over tracked files).
#   bash scripts/forecast-table.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rnnx() { node --import tsx src/cli/main.ts "$@"; }
dir=out/forecast-table
for name in airline-passengers daily-min-temperatures co2-concentration global-temp; do
  rnnx init "models/data/$name.csv" -o "$dir/$name/config.json" --force 2>/dev/null
  rnnx train "$dir/$name/config.json" --quiet >/dev/null
done
node -e '
const fs = require("fs");
const dir = process.argv[1];
console.log("| series | rows | `rnnx init` chose | held-out test rows | model RMSE | persistence | seasonal naive | training mean | stopped | verdict |");
console.log("|---|---|---|---|---|---|---|---|---|---|");
for (const name of ["airline-passengers", "daily-min-temperatures", "co2-concentration", "global-temp"]) {
  const cfg = JSON.parse(fs.readFileSync(`${dir}/${name}/config.json`, "utf8"));
  const log = JSON.parse(fs.readFileSync(`${dir}/${name}/${name}.log.json`, "utf8"));
  const e = log.evaluation;
  const f = (v) => (v === undefined ? "–" : (+v.toPrecision(4)).toString());
  const d = cfg.data;
  const chose = `${d.columns[0]}, ${d.transform}, window ${d.window}${d.season ? `, season ${d.season}` : ""}`;
  const rows = log.data.match(/: (\d+) rows/)[1];
  console.log(`| ${name} | ${rows} | ${chose} | ${d.testRows} | **${f(e.rmse)}** | ${f(e.persistenceRmse)} | ${f(e.seasonalNaiveRmse)} | ${f(e.trainingMeanRmse)} | epoch ${log.stop.epochsRun}, restored ${log.stop.restoredEpoch ?? "–"} | ${e.beatsBaselines ? "beats every baseline" : "does NOT beat " + e.bestBaseline} |`);
}
' "$dir"
