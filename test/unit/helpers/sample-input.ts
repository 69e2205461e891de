import { z } from 'zod';

/** A plausible value for a schema, so most commands get past validation into their handler. */
export function sample(schema: z.ZodType): unknown {
  // A schema with a format the generic values cannot meet carries an example (`.meta({ examples })`).
  const examples = (z.globalRegistry.get(schema) as { examples?: unknown[] } | undefined)?.examples;
  if (examples?.length) return examples[0];
  const def = (schema as unknown as { _zod: { def: Record<string, unknown> & { type: string } } })._zod.def;
  switch (def.type) {
    case 'object': {
      const shape = def.shape as Record<string, z.ZodType>;
      return Object.fromEntries(Object.entries(shape).map(([k, v]) => [k, sample(v)]));
    }
    case 'string':
      if (def.format === 'email') return 'ops@example.test';
      if (def.format === 'uuid') return '0b5f8f3e-3c8e-4d0a-9a51-2f1f6f2d8a11';
      return 'sample-value';
    case 'number':
      return 1;
    case 'boolean':
      return false;
    case 'enum':
      return Object.values(def.entries as Record<string, string>)[0];
    case 'literal':
      return (def.values as unknown[])[0];
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
      return sample(def.innerType as z.ZodType);
    case 'union':
      return sample((def.options as z.ZodType[])[0]!);
    case 'array':
      return [];
    case 'record':
      return {};
    default:
      return undefined;
  }
}
