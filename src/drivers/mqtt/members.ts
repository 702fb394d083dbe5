// A group's members in this process, by group and pattern. Each member's MQTT client id ends
// in a slot number, the lowest one no open member holds, so a process that restarts with the
// same members resumes the same broker sessions. Members that closed keep their place until
// their client is gone, so what they still hold can be handed to an open peer.

import { createHash } from 'node:crypto';
import { GroupTable } from '../../driver-kit/group-table.js';

/** The MQTT client id of a group member: `<clientId>-<group>-<8 hex of sha256(pattern)>-<slot>`. */
export function memberClientId(clientId: string, group: string, pattern: string, slot: number): string {
  return `${clientId}-${group}-${createHash('sha256').update(pattern).digest('hex').slice(0, 8)}-${slot}`;
}

export interface GroupMember {
  readonly slot: number;
  /** False once its subscription closed. */
  readonly open: boolean;
  /** Ends its client now (the session stays with the broker), so another member can take its slot. */
  finish(): Promise<void>;
}

export class GroupMembers<M extends GroupMember> {
  private readonly groups = new GroupTable<M[]>();

  /** The slot a new member takes, once the closed member that held it (if any) has let go of it. */
  async freeSlot(group: string, pattern: string): Promise<number> {
    const members = this.groups.get(group, pattern) ?? [];
    let slot = 0;
    while (members.some((member) => member.slot === slot && member.open)) slot++;
    await members.find((member) => member.slot === slot)?.finish();
    return slot;
  }

  join(group: string, pattern: string, member: M): void {
    let members = this.groups.get(group, pattern);
    if (members === undefined) this.groups.set(group, pattern, (members = []));
    members.push(member);
  }

  leave(group: string, pattern: string, member: M): void {
    const members = this.groups.get(group, pattern);
    if (members === undefined) return;
    const index = members.indexOf(member);
    if (index >= 0) members.splice(index, 1);
    if (members.length === 0) this.groups.delete(group, pattern);
  }

  /** An open member of the group other than `member`, to hand its messages to. */
  openPeer(group: string, pattern: string, member: M): M | undefined {
    return this.groups.get(group, pattern)?.find((peer) => peer !== member && peer.open);
  }

  /** The members of one group, open or closed. */
  of(group: string, pattern: string): M[] {
    return this.groups.get(group, pattern) ?? [];
  }
}
