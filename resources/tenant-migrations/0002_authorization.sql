-- Tenant schema v2: what identities may do (roles, resource servers, permissions).
CREATE TABLE resource_servers (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name        text NOT NULL UNIQUE,
  identifier  text NOT NULL UNIQUE, -- the audience value in access tokens
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE permissions (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  resource_server_id uuid NOT NULL REFERENCES resource_servers(id) ON DELETE CASCADE,
  name               text NOT NULL, -- e.g. read:invoices
  description        text,
  UNIQUE (resource_server_id, name)
);

CREATE TABLE roles (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name        text NOT NULL UNIQUE,
  description text,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE role_permissions (
  role_id       uuid NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
  permission_id uuid NOT NULL REFERENCES permissions(id) ON DELETE CASCADE,
  PRIMARY KEY (role_id, permission_id)
);

CREATE TABLE role_assignments (
  role_id  uuid NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
  user_id  uuid REFERENCES users(id) ON DELETE CASCADE,
  group_id uuid REFERENCES groups(id) ON DELETE CASCADE,
  CHECK ((user_id IS NULL) <> (group_id IS NULL))
);
CREATE UNIQUE INDEX role_assignments_user ON role_assignments(role_id, user_id) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX role_assignments_group ON role_assignments(role_id, group_id) WHERE group_id IS NOT NULL;
