/**
 * One live run per state directory. The lock is a file made with O_EXCL
 * holding the owner's pid and host. A lock whose process is gone (killed with
 * -9, the machine restarted) is stale and is taken over; a live owner's lock
 * is RUN_LOCKED. A lock from another host cannot be checked from here and is
 * refused too, with the host named (a state dir on a shared mount).
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { readFile, rename, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { BatchlineError } from '../errors.ts';
import { writeSynced } from '../io/atomic-write.ts';
import { systemCode } from '../io/system-error.ts';
import { stateWriteFailed } from './file-store.ts';

export const LOCK_FILE = 'lock';

/**
 * The tokens of the locks this process holds, whatever path they were taken
 * by: a lock naming our own pid whose token is not here was left by an earlier
 * process that had the pid (a restarted container).
 */
const held = new Set<string>();

interface LockOwner {
  pid: number;
  host: string;
  startedAt: number;
  /** Random, one per lock taken. */
  token?: string;
}

export interface RunLock {
  release(): Promise<void>;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return systemCode(err) === 'EPERM';
  }
}

async function readOwner(path: string): Promise<LockOwner | null> {
  try {
    const owner = JSON.parse(await readFile(path, 'utf8')) as LockOwner;
    return Number.isSafeInteger(owner?.pid) && typeof owner.host === 'string' ? owner : null;
  } catch {
    // Gone meanwhile, or cut short by a crash between create and write: no owner to respect.
    return null;
  }
}

/** The live owner of the state dir's lock, if any (for `batchline status`/`cancel --state-dir`). */
export async function lockOwner(dir: string): Promise<LockOwner | null> {
  const owner = await readOwner(join(dir, LOCK_FILE));
  if (!owner) return null;
  if (owner.host !== hostname()) return owner;
  if (owner.pid === process.pid) return ownedHere(owner) ? owner : null;
  return isAlive(owner.pid) ? owner : null;
}

function ownedHere(owner: LockOwner): boolean {
  return owner.pid === process.pid && owner.token !== undefined && held.has(owner.token);
}

export async function acquireRunLock(dir: string): Promise<RunLock> {
  const path = join(dir, LOCK_FILE);
  const token = randomBytes(8).toString('hex');
  const me: LockOwner = { pid: process.pid, host: hostname(), startedAt: Date.now(), token };
  for (let tries = 0; tries < 3; tries++) {
    try {
      await writeSynced(path, JSON.stringify(me), 'wx');
      held.add(token);
      return {
        async release() {
          held.delete(token);
          const owner = await readOwner(path);
          if (owner?.token === token && owner.host === me.host) await rm(path, { force: true });
        },
      };
    } catch (err) {
      if (systemCode(err) !== 'EEXIST') {
        throw stateWriteFailed(path, err);
      }
    }
    const owner = await readOwner(path);
    if (owner && owner.host !== me.host) {
      throw new BatchlineError('RUN_LOCKED', `the run in ${dir} is locked by process ${owner.pid} on host ${owner.host}; if it is gone, remove ${path}`);
    }
    if (owner && (ownedHere(owner) || (owner.pid !== process.pid && isAlive(owner.pid)))) {
      throw new BatchlineError('RUN_LOCKED', `the run in ${dir} is in progress in process ${owner.pid}; wait for it, or stop it and run again to resume`);
    }
    // Stale: moved aside under a name of its own, so two processes taking it over cannot both remove a fresh lock.
    const aside = `${path}.stale-${randomBytes(4).toString('hex')}`;
    const moved = await rename(path, aside).then(
      () => true,
      () => false,
    );
    if (!moved) continue;
    const movedOwner = await readOwner(aside);
    // Another process took the stale lock over between our read and our rename: its fresh lock goes back.
    if (movedOwner && movedOwner.pid !== owner?.pid) await rename(aside, path).catch(() => undefined);
    else await rm(aside, { force: true });
  }
  throw new BatchlineError('RUN_LOCKED', `the run in ${dir} keeps being locked by other processes`);
}
