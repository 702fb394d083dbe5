// Messages per second per topic, from what the live tail receives: one bucket per second,
// the last minute kept.

export const WINDOW_SECONDS = 60;
/** Topics tracked at most; a flood of distinct topics cannot grow the page's memory. */
const MAX_TOPICS = 500;

export class Rates {
  /** Per topic: counts of the last WINDOW_SECONDS seconds, oldest first; the last is the current second. */
  private readonly series = new Map<string, number[]>();
  private readonly totals = new Map<string, number>();
  private readonly all: number[] = new Array(WINDOW_SECONDS).fill(0);

  count(topic: string): void {
    let series = this.series.get(topic);
    if (series === undefined) {
      if (this.series.size >= MAX_TOPICS) return;
      this.series.set(topic, (series = new Array(WINDOW_SECONDS).fill(0)));
    }
    series[WINDOW_SECONDS - 1]++;
    this.all[WINDOW_SECONDS - 1]++;
    this.totals.set(topic, (this.totals.get(topic) ?? 0) + 1);
  }

  /** Called once a second: starts a new bucket. */
  tick(): void {
    for (const series of [this.all, ...this.series.values()]) {
      series.shift();
      series.push(0);
    }
  }

  /** The rate over the last complete seconds (up to 5), so a single burst does not flicker. */
  perSecond(topic: string): number {
    const series = this.series.get(topic);
    if (series === undefined) return 0;
    const recent = series.slice(-6, -1);
    return recent.reduce((sum, n) => sum + n, 0) / recent.length;
  }

  seen(topic: string): number {
    return this.totals.get(topic) ?? 0;
  }

  topics(): string[] {
    return [...this.series.keys()];
  }

  /** Complete seconds only, oldest first: the current, partial second is left out. */
  history(topic?: string): number[] {
    return (topic === undefined ? this.all : (this.series.get(topic) ?? [])).slice(0, -1);
  }

  reset(): void {
    this.series.clear();
    this.totals.clear();
    this.all.fill(0);
  }
}
