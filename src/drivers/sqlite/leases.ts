// The stored state of consumer groups: each group's position in the log and a lease per
// message handed out and not yet acknowledged (who holds it, until when, which attempt).
// Everything here runs inside a CommitQueue transaction unless it only reads.

import type { Database, Statement } from 'better-sqlite3';
import type { From } from '../../core/driver.js';
import { isWildcard, matchesPattern } from '../../core/topic.js';
import { isExpired, type MessageLog, type StoredRow } from './message-log.js';

export interface Claimed {
  row: StoredRow;
  attempt: number;
}

export interface ClaimResult {
  claimed: Claimed[];
  /** Whether a full batch was taken, so more may be waiting. */
  more: boolean;
  /** The earliest deadline among the group's leases after the claim. */
  nextDue: number | undefined;
  /** The deadline of the leases just claimed. */
  deadline: number;
}

/**
 * Unread messages counted per topic at most: the count runs on the event loop, so a backlog of
 * millions would stall the process at every scrape. Past it the lag is a floor.
 */
export const LAG_COUNT_CAP = 10_000;

export class LeaseStore {
  private readonly findGroup: Statement;
  private readonly createGroup: Statement;
  private readonly readPosition: Statement;
  private readonly writePosition: Statement;
  private readonly dueLeases: Statement;
  private readonly anyDue: Statement;
  private readonly earliestDeadline: Statement;
  private readonly takeLease: Statement;
  private readonly insertLease: Statement;
  private readonly deleteLease: Statement;
  private readonly releaseLease: Statement;
  private readonly extendLease: Statement;
  private readonly releaseOwner: Statement;
  private readonly registerOwner: Statement;
  private readonly removeOwner: Statement;
  private readonly otherOwners: Statement;
  private readonly storedTopics: Statement;
  private readonly unreadOnTopic: Statement;
  private readonly leaseCount: Statement;

  constructor(
    db: Database,
    private readonly log: MessageLog,
    readonly owner: string,
  ) {
    this.findGroup = db.prepare('SELECT id FROM groups WHERE name = ? AND pattern = ?').pluck();
    this.createGroup = db.prepare('INSERT INTO groups (name, pattern, position, created) VALUES (?, ?, ?, ?)');
    this.readPosition = db.prepare('SELECT position FROM groups WHERE id = ?').pluck();
    this.writePosition = db.prepare('UPDATE groups SET position = ? WHERE id = ?');
    this.dueLeases = db.prepare('SELECT seq, attempt FROM leases WHERE group_id = ? AND deadline <= ? ORDER BY deadline, seq LIMIT ?');
    this.anyDue = db.prepare('SELECT 1 FROM leases WHERE group_id = ? AND deadline <= ? LIMIT 1').pluck();
    this.earliestDeadline = db.prepare('SELECT min(deadline) FROM leases WHERE group_id = ?').pluck();
    this.takeLease = db.prepare('UPDATE leases SET attempt = ?, deadline = ?, owner = ? WHERE group_id = ? AND seq = ?');
    this.insertLease = db.prepare('INSERT OR REPLACE INTO leases (group_id, seq, attempt, deadline, owner) VALUES (?, ?, 1, ?, ?)');
    this.deleteLease = db.prepare('DELETE FROM leases WHERE group_id = ? AND seq = ?');
    this.releaseLease = db.prepare(
      'UPDATE leases SET owner = NULL, deadline = ? WHERE group_id = ? AND seq = ? AND attempt = ? AND owner = ?',
    );
    this.extendLease = db.prepare('UPDATE leases SET deadline = ? WHERE group_id = ? AND seq = ? AND attempt = ? AND owner = ?');
    this.releaseOwner = db.prepare('UPDATE leases SET owner = NULL, deadline = 0 WHERE owner = ?');
    this.registerOwner = db.prepare('INSERT OR REPLACE INTO owners (id, pid, host, started) VALUES (?, ?, ?, ?)');
    this.removeOwner = db.prepare('DELETE FROM owners WHERE id = ?');
    this.otherOwners = db.prepare('SELECT id, pid FROM owners WHERE host = ? AND id != ?');
    this.storedTopics = db.prepare('SELECT topic FROM topics').pluck();
    this.unreadOnTopic = db
      .prepare(`SELECT count(*) FROM (SELECT 1 FROM messages WHERE topic = ? AND seq > ? AND (expires IS NULL OR expires > ?) LIMIT ${LAG_COUNT_CAP})`)
      .pluck();
    this.leaseCount = db.prepare('SELECT count(*) FROM leases WHERE group_id = ?').pluck();
  }

  /** The group's id, creating it at `from` if it is new (an existing group keeps its position). */
  group(name: string, pattern: string, from: From | undefined): number {
    const id = this.findGroup.get(name, pattern) as number | undefined;
    if (id !== undefined) return id;
    return Number(this.createGroup.run(name, pattern, this.log.positionFor(from), Date.now()).lastInsertRowid);
  }

  /**
   * Messages past the group's position matching `pattern`, plus its leases (handed out, not
   * acked). Counted per topic on the topic index, so a wildcard costs one count per stored
   * topic it matches. A group this file does not hold has nothing to lag behind: 0.
   */
  lag(name: string, pattern: string): number {
    const id = this.findGroup.get(name, pattern) as number | undefined;
    if (id === undefined) return 0;
    const position = this.readPosition.get(id) as number;
    const now = Date.now();
    const topics = isWildcard(pattern) ? (this.storedTopics.all() as string[]).filter((topic) => matchesPattern(pattern, topic)) : [pattern];
    let unread = 0;
    for (const topic of topics) unread += this.unreadOnTopic.get(topic, position, now) as number;
    return unread + (this.leaseCount.get(id) as number);
  }

  /** A cheap read-only check, so idle wake-ups do not open write transactions. */
  hasWork(group: number, now: number): boolean {
    if (this.anyDue.get(group, now) !== undefined) return true;
    return this.log.head() > ((this.readPosition.get(group) as number | undefined) ?? Infinity);
  }

  /** Takes due redeliveries first, then new messages matching `pattern`, up to `limit`. */
  claim(group: number, pattern: string, topic: string | undefined, limit: number, ackDeadlineMs: number): ClaimResult {
    const now = Date.now();
    const deadline = now + ackDeadlineMs;
    const claimed: Claimed[] = [];
    const due = this.dueLeases.all(group, now, limit) as Array<{ seq: number; attempt: number }>;
    for (const lease of due) {
      const row = this.log.get(lease.seq);
      if (row === undefined || isExpired(row, now)) {
        this.deleteLease.run(group, lease.seq);
        continue;
      }
      this.takeLease.run(lease.attempt + 1, deadline, this.owner, group, lease.seq);
      claimed.push({ row, attempt: lease.attempt + 1 });
    }
    let more = due.length === limit;
    const room = limit - claimed.length;
    if (room > 0) {
      const start = this.readPosition.get(group) as number;
      // A wildcard scans past messages it does not match, so read a wider window of the log.
      const scan = topic === undefined ? room * 4 : room;
      const rows = this.log.read(start, scan, topic);
      let position = start;
      let full = false;
      for (const row of rows) {
        if (claimed.length === limit) {
          full = true;
          break;
        }
        position = row.seq;
        if (topic === undefined && !matchesPattern(pattern, row.topic)) continue;
        if (isExpired(row, now)) continue;
        this.insertLease.run(group, row.seq, deadline, this.owner);
        claimed.push({ row, attempt: 1 });
      }
      if (full || rows.length === scan) more = true;
      // Everything up to the head was read (and we hold the write lock): skip to it, past
      // other topics' messages and seqs that retention already removed.
      else position = Math.max(position, this.log.head());
      if (position !== start) this.writePosition.run(position, group);
    }
    const nextDue = this.earliestDeadline.get(group) as number | null;
    return { claimed, more, nextDue: nextDue ?? undefined, deadline };
  }

  nextDeadline(group: number): number | undefined {
    return (this.earliestDeadline.get(group) as number | null) ?? undefined;
  }

  ack(group: number, seq: number): void {
    this.deleteLease.run(group, seq);
  }

  /** Makes a lease due again at `at`, if this owner still holds that attempt. */
  release(group: number, seq: number, attempt: number, at: number): void {
    this.releaseLease.run(at, group, seq, attempt, this.owner);
  }

  extend(group: number, seq: number, attempt: number, deadline: number): void {
    this.extendLease.run(deadline, group, seq, attempt, this.owner);
  }

  registerSelf(pid: number, host: string): void {
    this.registerOwner.run(this.owner, pid, host, Date.now());
  }

  /** Hands every lease this driver holds back to the group, due now; forgets the owner. */
  releaseSelf(): void {
    this.releaseOwner.run(this.owner);
    this.removeOwner.run(this.owner);
  }

  /** Releases the leases of processes on this host that died without closing (a crash). */
  reapDead(host: string, alive: (pid: number) => boolean): number {
    let reaped = 0;
    for (const { id, pid } of this.otherOwners.all(host, this.owner) as Array<{ id: string; pid: number }>) {
      if (alive(pid)) continue;
      reaped += this.releaseOwner.run(id).changes;
      this.removeOwner.run(id);
    }
    return reaped;
  }
}
