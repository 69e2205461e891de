import { z } from 'zod/v4';

/**
 * What `zod` resolves to in the renderer build (the alias in vite.renderer.config.ts):
 * zod with its JIT off. Every module that imports zod therefore runs this first,
 * before it builds a schema. With the JIT on, zod probes `new Function` while
 * building object schemas, and our CSP (`script-src 'self'`, no eval) reports
 * that probe as a violation on every load even though zod catches the refusal.
 */
z.config({ jitless: true });

export * from 'zod/v4';
export { z };
export default z;
