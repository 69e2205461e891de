export { RotationService, type RotationServiceOptions } from './service';
export { rotationMigrations } from './fleet';
