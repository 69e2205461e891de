import SecretsTab from './SecretsTab';

/** Tenant → CP token: the token the control plane presents to the tenant's API. */
export default function CpTokenTab({ slug }: { slug: string }) {
  return <SecretsTab slug={slug} kinds={['cp']} />;
}
