import { readFileSync } from 'node:fs';

/**
 * This process's own peak resident set size, in MiB.
 *
 * process.resourceUsage().maxRSS is not enough for a benchmark child: Linux
 * carries the peak of the forked copy of the parent over the exec, so a child
 * started while the parent is large (say, just after it hashed a gigabyte of
 * output) reports the parent's size. VmHWM in /proc/self/status belongs to
 * the memory of the program that runs after the exec, so it is the child's
 * own. Where /proc is missing, maxRSS stands in.
 */
export function peakRssMB(): number {
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (match) return Number(match[1]) / 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS / 1024;
}
