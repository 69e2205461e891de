import { lazy, Suspense } from 'react';
import { TenantList } from './TenantList';

const TenantDetail = lazy(() => import('./TenantDetail'));

/** #/tenants → the list; #/tenants/<slug>[/<tab>] → one tenant. */
export default function TenantsPage({ segments }: { segments: string[] }) {
  const [slug, tab] = segments;
  if (slug) {
    return (
      <Suspense fallback={<div className="loading">Loading…</div>}>
        <TenantDetail slug={slug} tab={tab ?? 'overview'} />
      </Suspense>
    );
  }
  return <TenantList />;
}
