/**
 * Emulator time: real time plus an offset that tests move forward, so an
 * upload's 1 h expiry or a batch's 24 h window can be crossed in a millisecond.
 */
import { EventEmitter } from 'node:events';

export class EmulatorClock extends EventEmitter {
  private offsetMs = 0;

  /** Emulator time in milliseconds since the epoch. */
  now(): number {
    return Date.now() + this.offsetMs;
  }

  /** Emulator time in whole seconds, as the API's timestamps are. */
  nowSeconds(): number {
    return Math.floor(this.now() / 1000);
  }

  /** Moves emulator time forward and tells listeners ('advance') so they can expire what is due. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError('the clock only moves forward');
    this.offsetMs += ms;
    this.emit('advance', this.now());
  }
}
