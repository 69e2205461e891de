import { describe, expect, it } from 'vitest';
import { tableOfEntry } from '../../../src-main/engine/backups/load';

// A restore builds a table's indexes and keys as soon as its rows are in (like pg_restore -j):
// which table an entry of pg_dump's post-data section is on decides when it may run.
describe('tableOfEntry', () => {
  it('reads the table of pg_dump index and constraint entries, quoted or not', () => {
    expect(tableOfEntry({ type: 'INDEX', sql: 'CREATE UNIQUE INDEX users_email_key ON public.users USING btree (email);' })).toBe(
      'public.users',
    );
    expect(tableOfEntry({ type: 'INDEX', sql: 'CREATE INDEX "Odd Name" ON ONLY "My Schema"."Sign ""Ins""" USING btree (at);' })).toBe(
      'My Schema.Sign "Ins"',
    );
    expect(
      tableOfEntry({ type: 'CONSTRAINT', sql: 'ALTER TABLE ONLY public.users\n    ADD CONSTRAINT users_pkey PRIMARY KEY (id);' }),
    ).toBe('public.users');
  });

  it('leaves everything else to run after the data: foreign keys, triggers, attachments, anything unparsed', () => {
    expect(
      tableOfEntry({
        type: 'FK CONSTRAINT',
        sql: 'ALTER TABLE ONLY public.sign_ins\n    ADD CONSTRAINT sign_ins_user_fkey FOREIGN KEY (user_id) REFERENCES public.users(id);',
      }),
    ).toBeNull();
    expect(
      tableOfEntry({ type: 'TRIGGER', sql: 'CREATE TRIGGER t BEFORE UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION f();' }),
    ).toBeNull();
    expect(tableOfEntry({ type: 'INDEX ATTACH', sql: 'ALTER INDEX public.p_pkey ATTACH PARTITION public.p1_pkey;' })).toBeNull();
    expect(tableOfEntry({ type: 'INDEX', sql: 'CREATE INDEX weird ON (SELECT 1);' })).toBeNull();
  });
});
