export { EntitiesService, allTenantSlugs, type EntitiesServiceOptions } from './service';
export { entitiesMigrations, ENTITY_SYNC } from './apply-saga';
export { SYNC_ROLE, REQUIRED_SCHEMA } from './tenant-sync';
