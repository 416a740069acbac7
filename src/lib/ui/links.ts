/** Where the pages live, in one place so a route can move without hunting for hrefs. */
export const NAV = [
  { href: '/', label: 'Dashboard' },
  { href: '/record', label: 'Record' },
  { href: '/checklist', label: 'Checklist' },
  { href: '/policies', label: 'Policies' },
  { href: '/search', label: 'Search' },
  { href: '/asset', label: 'Assets' },
  { href: '/verify', label: 'Verify' },
  { href: '/team', label: 'Team' },
  { href: '/settings', label: 'Settings' }
] as const;

/** The asset page of a generation (or any event that names files). */
export const assetHref = (eventId: string): string => `/asset/${encodeURIComponent(eventId)}`;

/** The policies page, opened on one snapshot. */
export const policyHref = (eventId: string): string => `/policies?snapshot=${encodeURIComponent(eventId)}`;

/** True when `pathname` is inside the section `href` (the dashboard only matches itself). */
export const inSection = (pathname: string, href: string): boolean =>
  href === '/' ? pathname === '/' : pathname === href || pathname.startsWith(`${href}/`);
