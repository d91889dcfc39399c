/**
 * One live run per state directory. The lock is a file made with O_EXCL
 * holding the owner's pid and host. A lock whose process is gone (killed with
 * -9, the machine restarted) is stale and is taken over; a live owner's lock
 * is RUN_LOCKED. A lock from another host cannot be checked from here and is
 * refused too, with the host named (a state dir on a shared mount).
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { BatchlineError, IoError } from '../errors.ts';
import { systemCode, systemReason } from '../io/system-error.ts';

export const LOCK_FILE = 'lock';

/** The locks this process holds: a lock naming our own pid that is not here was left by an earlier process that had it (a restarted container). */
const held = new Set<string>();

interface LockOwner {
  pid: number;
  host: string;
  startedAt: number;
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
  if (owner.pid === process.pid) return held.has(join(dir, LOCK_FILE)) ? owner : null;
  return isAlive(owner.pid) ? owner : null;
}

export async function acquireRunLock(dir: string): Promise<RunLock> {
  const path = join(dir, LOCK_FILE);
  const me: LockOwner = { pid: process.pid, host: hostname(), startedAt: Date.now() };
  for (let tries = 0; tries < 3; tries++) {
    try {
      const handle = await open(path, 'wx');
      try {
        await handle.writeFile(JSON.stringify(me));
        await handle.sync();
      } finally {
        await handle.close();
      }
      held.add(path);
      return {
        async release() {
          held.delete(path);
          const owner = await readOwner(path);
          if (owner?.pid === me.pid && owner.host === me.host) await rm(path, { force: true });
        },
      };
    } catch (err) {
      if (systemCode(err) !== 'EEXIST') {
        throw new IoError('RUN_STATE_WRITE_FAILED', `cannot make the lock ${path}: ${systemReason(err)}`, { path, syscallCode: systemCode(err), cause: err });
      }
    }
    const owner = await readOwner(path);
    if (owner && owner.host !== me.host) {
      throw new BatchlineError('RUN_LOCKED', `the run in ${dir} is locked by process ${owner.pid} on host ${owner.host}; if it is gone, remove ${path}`);
    }
    const ours = owner?.pid === process.pid && held.has(path);
    if (owner && (ours || (owner.pid !== process.pid && isAlive(owner.pid)))) {
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
