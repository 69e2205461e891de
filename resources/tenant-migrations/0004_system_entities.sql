-- Tenant schema v4: system entities synced from the Gatehouse control plane (docs/entities.md).
-- Resource servers (with their scopes as permissions), roles and role permissions defined once
-- on the control plane arrive here as rows with is_system = true, a stable id (the definition's)
-- and the definition's hash. The tenant's own role, which the backend connects as, cannot
-- insert, update, delete or truncate them: only the role gatehouse_entity_sync may, and the
-- tenant role is not a member of it (it cannot SET ROLE to it, and it has no CREATEROLE to make
-- itself one). Tenant-owned rows (is_system = false) stay fully editable.
-- Idempotent on purpose: the console re-runs this file to repair a damaged protection.
ALTER TABLE resource_servers ADD COLUMN IF NOT EXISTS is_system boolean NOT NULL DEFAULT false;
ALTER TABLE resource_servers ADD COLUMN IF NOT EXISTS system_hash text;
ALTER TABLE permissions ADD COLUMN IF NOT EXISTS is_system boolean NOT NULL DEFAULT false;
ALTER TABLE permissions ADD COLUMN IF NOT EXISTS system_hash text;
ALTER TABLE roles ADD COLUMN IF NOT EXISTS is_system boolean NOT NULL DEFAULT false;
ALTER TABLE roles ADD COLUMN IF NOT EXISTS system_hash text;
ALTER TABLE role_permissions ADD COLUMN IF NOT EXISTS is_system boolean NOT NULL DEFAULT false;

-- What the console last wrote: the definitions' revision and hash, and each entity's hash (the manifest),
-- so the console can tell a pending change from drift (a row edited, removed or added behind it).
CREATE TABLE IF NOT EXISTS system_entity_state (
  id               integer PRIMARY KEY CHECK (id = 1),
  revision         bigint NOT NULL,
  definitions_hash text NOT NULL,
  manifest         jsonb NOT NULL,
  operation_id     text,
  applied_at       timestamptz NOT NULL DEFAULT now()
);

CREATE OR REPLACE FUNCTION gatehouse_protect_system_rows() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $fn$
DECLARE
  what text := CASE TG_TABLE_NAME WHEN 'resource_servers' THEN 'resource server' WHEN 'permissions' THEN 'permission'
               WHEN 'roles' THEN 'role' WHEN 'role_permissions' THEN 'role permission' ELSE TG_TABLE_NAME END;
  label text;
  hint text := 'System entities are defined on the Gatehouse control plane (Control-plane entities page) and synced into every tenant; change them there. Tenant-owned rows (is_system = false) stay editable.';
BEGIN
  IF current_user = 'gatehouse_entity_sync' THEN
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
  END IF;
  IF TG_TABLE_NAME = 'system_entity_state' THEN
    RAISE EXCEPTION 'system_entity_state is written only by the Gatehouse console''s entity sync (% refused)', TG_OP
      USING ERRCODE = 'insufficient_privilege', HINT = hint;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.is_system THEN
    label := coalesce(to_jsonb(OLD) ->> 'name', to_jsonb(OLD) ->> 'identifier', to_jsonb(OLD) ->> 'role_id');
    RAISE EXCEPTION '% "%" is a system entity synced from the Gatehouse control plane and cannot be changed in this tenant (% refused)', what, label, TG_OP
      USING ERRCODE = 'insufficient_privilege', HINT = hint;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.is_system THEN
    RAISE EXCEPTION 'only the Gatehouse control plane creates system entities: a % with is_system = true is refused', what
      USING ERRCODE = 'insufficient_privilege', HINT = hint;
  END IF;
  -- The scopes of a system resource server and the permissions of a system role belong to their definition.
  -- (Nested IFs: a record field is resolved when its expression is planned, so it must only be reached for its table.)
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    IF TG_TABLE_NAME = 'permissions' THEN
      IF EXISTS (SELECT 1 FROM public.resource_servers WHERE id = NEW.resource_server_id AND is_system) THEN
        RAISE EXCEPTION 'the scopes of system resource server % are defined on the Gatehouse control plane; adding or moving a permission there is refused', NEW.resource_server_id
          USING ERRCODE = 'insufficient_privilege', HINT = hint;
      END IF;
    ELSIF TG_TABLE_NAME = 'role_permissions' THEN
      IF EXISTS (SELECT 1 FROM public.roles WHERE id = NEW.role_id AND is_system) THEN
        RAISE EXCEPTION 'the permissions of system role % are defined on the Gatehouse control plane; changing them in this tenant is refused', NEW.role_id
          USING ERRCODE = 'insufficient_privilege', HINT = hint;
      END IF;
    END IF;
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$fn$;

-- TRUNCATE fires no row trigger: refuse it while system rows exist (also when reached through CASCADE).
CREATE OR REPLACE FUNCTION gatehouse_protect_system_truncate() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $fn$
DECLARE
  has_system boolean;
BEGIN
  IF current_user = 'gatehouse_entity_sync' THEN
    RETURN NULL;
  END IF;
  IF TG_TABLE_NAME = 'system_entity_state' THEN
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.%I)', TG_TABLE_SCHEMA, TG_TABLE_NAME) INTO has_system;
  ELSE
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.%I WHERE is_system)', TG_TABLE_SCHEMA, TG_TABLE_NAME) INTO has_system;
  END IF;
  IF has_system THEN
    RAISE EXCEPTION 'TRUNCATE of % is refused: it holds system entities synced from the Gatehouse control plane', TG_TABLE_NAME
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'Delete tenant-owned rows with DELETE ... WHERE NOT is_system; system entities are changed on the control plane.';
  END IF;
  RETURN NULL;
END
$fn$;

DO $do$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['resource_servers', 'permissions', 'roles', 'role_permissions', 'system_entity_state'] LOOP
    EXECUTE format('DROP TRIGGER IF EXISTS gatehouse_protect_rows ON public.%I', t);
    EXECUTE format('CREATE TRIGGER gatehouse_protect_rows BEFORE INSERT OR UPDATE OR DELETE ON public.%I FOR EACH ROW EXECUTE FUNCTION gatehouse_protect_system_rows()', t);
    EXECUTE format('DROP TRIGGER IF EXISTS gatehouse_protect_truncate ON public.%I', t);
    EXECUTE format('CREATE TRIGGER gatehouse_protect_truncate BEFORE TRUNCATE ON public.%I FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_protect_system_truncate()', t);
  END LOOP;
  -- The sync role is created by the console (the tenant role cannot create roles); when it
  -- does not exist yet, the console grants this itself before its first sync.
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gatehouse_entity_sync') THEN
    GRANT SELECT, INSERT, UPDATE, DELETE ON resource_servers, permissions, roles, role_permissions, system_entity_state TO gatehouse_entity_sync;
  END IF;
END
$do$;
