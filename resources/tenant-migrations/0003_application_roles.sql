-- Tenant schema v3: applications expose roles and keep an audit trail of sign-ins.
ALTER TABLE roles ADD COLUMN application_id uuid REFERENCES applications(id) ON DELETE CASCADE;
CREATE TABLE sign_ins (
  id          bigserial PRIMARY KEY,
  user_id     uuid REFERENCES users(id) ON DELETE SET NULL,
  application_id uuid REFERENCES applications(id) ON DELETE SET NULL,
  outcome     text NOT NULL CHECK (outcome IN ('success', 'failure')),
  at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sign_ins_at ON sign_ins(at);
