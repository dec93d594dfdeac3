// Training progress: on a terminal, one bar per epoch redrawn in place (loss, validation loss,
// steps/s, ETA); otherwise one plain line per epoch, which reads well in CI logs and files.

export interface EpochStats {
  epoch: number;
  loss: number;
  valLoss?: number;
  accuracy?: number;
  valAccuracy?: number;
  seconds: number;
  stepsPerSec: number;
}

const fmt = (v: number | undefined, digits = 4) => (v === undefined || !Number.isFinite(v) ? '—' : v < 1e-3 || v >= 1e4 ? v.toExponential(2) : v.toFixed(digits));

function duration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${s.toFixed(0)}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export class Progress {
  private readonly start = Date.now();
  private epochStart = Date.now();
  private stepsDone = 0;
  private lastDraw = 0;
  private lastLoss = NaN;
  private lastVal: number | undefined;

  constructor(
    private readonly epochs: number,
    private readonly stepsPerEpoch: number,
    private readonly tty: boolean,
    private readonly write: (s: string) => void = (s) => process.stderr.write(s),
    private readonly quiet = false,
  ) {}

  epochBegin(): void {
    this.epochStart = Date.now();
  }

  /** step counts from 1 within the epoch. */
  batch(epoch: number, step: number, loss: number): void {
    this.stepsDone++;
    this.lastLoss = loss;
    if (!this.tty || this.quiet) return;
    const now = Date.now();
    if (now - this.lastDraw < 100 && step < this.stepsPerEpoch) return;
    this.lastDraw = now;
    const elapsed = (now - this.start) / 1000;
    const rate = this.stepsDone / Math.max(elapsed, 1e-9);
    const remaining = this.epochs * this.stepsPerEpoch - this.stepsDone;
    const frac = Math.min(1, step / this.stepsPerEpoch);
    const width = 24;
    const filled = Math.round(frac * width);
    const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
    this.write(`\r\x1b[Kepoch ${epoch + 1}/${this.epochs} ${bar} ${(frac * 100).toFixed(0).padStart(3)}%  loss ${fmt(loss)}  val ${fmt(this.lastVal)}  ${rate.toFixed(1)} steps/s  ETA ${duration(remaining / rate)}`);
  }

  epochEnd(s: EpochStats): void {
    this.lastVal = s.valLoss;
    if (this.quiet) return;
    const acc = s.valAccuracy !== undefined ? `  val_acc ${(s.valAccuracy * 100).toFixed(1)}%` : s.accuracy !== undefined ? `  acc ${(s.accuracy * 100).toFixed(1)}%` : '';
    const line = `epoch ${s.epoch + 1}/${this.epochs}  loss ${fmt(s.loss)}  val_loss ${fmt(s.valLoss)}${acc}  ${s.stepsPerSec.toFixed(1)} steps/s  ${s.seconds.toFixed(2)}s`;
    if (this.tty) {
      const elapsed = (Date.now() - this.start) / 1000;
      const eta = (elapsed / (s.epoch + 1)) * (this.epochs - s.epoch - 1);
      this.write(`\r\x1b[K${line}  ETA ${duration(eta)}\n`);
    } else this.write(line + '\n');
  }

  get lastBatchLoss(): number {
    return this.lastLoss;
  }
}
