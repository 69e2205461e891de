import { useCallback, useEffect, useRef, useState } from 'react';
import type { CommandInput, CommandName, CommandOutput, ContractErrorShape } from '../../src-shared/contract';
import { client, errorShape } from '../client';
import { useApp } from '../stores/app';

export interface Query<T> {
  data: T | undefined;
  error: ContractErrorShape | undefined;
  loading: boolean;
  reload(): Promise<void>;
}

/**
 * Runs a read command on mount, when `key` changes and when the engine answers again after
 * a lost connection; keeps the last good answer while reloading.
 */
export function useInvoke<K extends CommandName>(name: K, input: CommandInput<K>, key = '', enabled = true): Query<CommandOutput<K>> {
  const [data, setData] = useState<CommandOutput<K>>();
  const [error, setError] = useState<ContractErrorShape>();
  const [loading, setLoading] = useState(enabled);
  const inputRef = useRef(input);
  inputRef.current = input;
  const seq = useRef(0);
  const reconnects = useApp((s) => s.reconnects);

  const reload = useCallback(async () => {
    const mine = ++seq.current;
    setLoading(true);
    try {
      const value = await client.invoke(name, inputRef.current);
      if (mine === seq.current) {
        setData(value);
        setError(undefined);
      }
    } catch (e) {
      if (mine === seq.current) setError(errorShape(e));
    } finally {
      if (mine === seq.current) setLoading(false);
    }
  }, [name]);

  useEffect(() => {
    if (enabled) void reload();
  }, [reload, key, enabled, reconnects]);

  return { data, error, loading, reload };
}
