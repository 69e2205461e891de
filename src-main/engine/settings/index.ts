// What other capabilities may use of settings (eslint: capabilities import each other only through index.ts).
export { SettingsService, settingsMigrations } from './service';
