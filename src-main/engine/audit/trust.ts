import { ContractError } from '../../../src-shared/contract/errors';
import type { Sqlite } from '../../adapters/sqlite';
import { fingerprint, openEndorsement, parseVkey, signEndorsement, type InstallationKey, type Verifier } from './signing';

export interface EnrolledSigner {
  name: string;
  vkey: string;
  fingerprint: string;
  own: boolean;
  enrolledBy: string;
  enrolledAt: string;
}

interface SignerRow {
  name: string;
  vkey: string;
  fingerprint: string;
  own: number;
  enrolled_by: string;
  enrolled_at: string;
  endorsement: string | null;
}

/**
 * The signers this console trusts, kept in durable state. A key is trusted because it is
 * this installation's own, because an admin enrolled it after comparing its fingerprint out
 * of band, or because an enrolled key endorsed it (one level). Never because a database
 * lists it: keys found there are "unenrolled" and their checkpoints count for nothing.
 */
export class SignerRegistry {
  constructor(private readonly db: Sqlite) {}

  private rows(): SignerRow[] {
    return this.db.prepare('SELECT * FROM audit_signers ORDER BY own DESC, enrolled_at, name').all() as SignerRow[];
  }

  /** Records this installation's key (trusted by itself from the start). */
  ensureOwn(key: InstallationKey): void {
    const vkey = key.verifier.vkey;
    this.db
      .prepare(
        `INSERT INTO audit_signers (name, vkey, fingerprint, own, enrolled_by, enrolled_at) VALUES (?, ?, ?, 1, 'this installation', ?)
         ON CONFLICT (name) DO NOTHING`,
      )
      .run(key.name, vkey, fingerprint(vkey), new Date().toISOString());
  }

  enrolled(): EnrolledSigner[] {
    return this.rows().map((r) => ({
      name: r.name,
      vkey: r.vkey,
      fingerprint: r.fingerprint,
      own: r.own === 1,
      enrolledBy: r.enrolled_by,
      enrolledAt: r.enrolled_at,
    }));
  }

  /**
   * Enrolls a key. The admin types (or pastes) the fingerprint they compared with the other
   * console's owner; a mismatch refuses, so a key swapped on the way is never enrolled.
   */
  enroll(vkey: string, typedFingerprint: string, by: string, own: InstallationKey | null): EnrolledSigner {
    let v: Verifier;
    try {
      v = parseVkey(vkey);
    } catch (e) {
      throw new ContractError(
        'VALIDATION',
        `The signer key is not valid (${(e as Error).message}). Copy it again from the other console's Audit log page.`,
        {
          fields: { vkey: 'invalid' },
        },
      );
    }
    const fp = fingerprint(v.vkey);
    if (typedFingerprint.trim() !== fp) {
      throw new ContractError(
        'VALIDATION',
        `The fingerprint you entered does not match this key (its fingerprint is ${fp}). Compare it again with the other console's owner before enrolling.`,
        { fields: { fingerprint: 'mismatch' } },
      );
    }
    const existing = this.rows().find((r) => r.name === v.name || r.vkey === v.vkey);
    if (existing && existing.vkey !== v.vkey) {
      throw new ContractError(
        'CONFLICT',
        `A different key named "${v.name}" is already enrolled. Remove it first if that console's key really changed.`,
      );
    }
    if (!existing) {
      this.db
        .prepare(
          'INSERT INTO audit_signers (name, vkey, fingerprint, own, enrolled_by, enrolled_at, endorsement) VALUES (?, ?, ?, 0, ?, ?, ?)',
        )
        .run(v.name, v.vkey, fp, by, new Date().toISOString(), own ? signEndorsement(own, v.vkey) : null);
    }
    return this.enrolled().find((s) => s.name === v.name)!;
  }

  remove(name: string): EnrolledSigner {
    const row = this.enrolled().find((s) => s.name === name);
    if (!row) throw new ContractError('NOT_FOUND', `No enrolled signer "${name}". The list on the Audit log page shows the enrolled ones.`);
    if (row.own)
      throw new ContractError('VALIDATION', "This installation's own key cannot be removed: it signs this console's checkpoints.");
    this.db.prepare('DELETE FROM audit_signers WHERE name = ?').run(name);
    return row;
  }

  /** Own + admin-enrolled keys. */
  verifiers(): Verifier[] {
    return this.rows().map((r) => parseVkey(r.vkey));
  }

  /** Own + enrolled + keys endorsed by one of them in `endorsements` (notes read from shared logs, bundles…). */
  trusted(endorsements: string[] = []): { verifiers: Verifier[]; endorsed: { vkey: string; endorser: string }[] } {
    const base = this.verifiers();
    const endorsed: { vkey: string; endorser: string }[] = [];
    const out = [...base];
    for (const note of endorsements) {
      const e = openEndorsement(note, base);
      if (!e || out.some((v) => v.vkey === e.vkey)) continue;
      try {
        const v = parseVkey(e.vkey);
        if (out.some((o) => o.name === v.name)) continue; // a name already taken by another key is never replaced
        out.push(v);
        endorsed.push(e);
      } catch {
        // an endorsement of a malformed key endorses nothing
      }
    }
    return { verifiers: out, endorsed };
  }

  /** This console's endorsements of the keys it enrolled, to publish (signed lazily when the key was locked at enrolment). */
  endorsements(own: InstallationKey | null): string[] {
    const out: string[] = [];
    for (const r of this.rows()) {
      if (r.own === 1) continue;
      let note = r.endorsement;
      if (!note && own) {
        note = signEndorsement(own, r.vkey);
        this.db.prepare('UPDATE audit_signers SET endorsement = ? WHERE name = ?').run(note, r.name);
      }
      if (note) out.push(note);
    }
    return out;
  }
}
