import { api, query, Session } from '../api';
import { ActionButton, Badge, CopyField, Loaded, Table, usePager } from '../components/ui';
import { ago, bytes, shortId } from '../format';
import { useEvents, useResource, useThrottled } from '../hooks';
import type { Image, Page } from '../types';

const PAGE_SIZE = 20; // repositories per page

/** The same rule as decide() for repositories: admins write all; members their team's, never shared ones. */
export function mayWriteRepository(session: Session, repository: string): boolean {
  if (session.user.role === 'admin') return true;
  return session.user.role === 'member' && !!session.teamName && repository.startsWith(`${session.teamName}/`);
}

/** Tags of every repository the caller may pull: sizes, digests, cached hosts, commands to copy. */
export function ImagesPage({ session }: { session: Session }) {
  const pager = usePager();
  const images = useResource(() => api<Page<Image>>(`/v1/images${query({ limit: PAGE_SIZE, cursor: pager.cursor })}`), [pager.cursor]);
  const reload = useThrottled(images.reload, 500);
  useEvents((event) => event.type === 'image' && reload());
  const byRepository = new Map<string, Image[]>();
  for (const image of images.data?.items ?? []) byRepository.set(image.repository, [...(byRepository.get(image.repository) ?? []), image]);
  return (
    <>
      <h1>Images</h1>
      <Loaded resource={images} what="images" empty={(p) => p.items.length === 0 && pager.page === 1}>
        {(page) => (
          <>
            {[...byRepository.entries()].map(([repository, tags]) => (
              <Repository key={repository} session={session} repository={repository} tags={tags} onChange={images.reload} />
            ))}
            {pager.controls(page.nextCursor)}
          </>
        )}
      </Loaded>
    </>
  );
}

function Repository({ session, repository, tags, onChange }: { session: Session; repository: string; tags: Image[]; onChange: () => void }) {
  const registry = tags[0].reference.slice(0, tags[0].reference.length - `${repository}:${tags[0].tag}`.length).replace(/\/$/, '');
  const isAdmin = session.user.role === 'admin';
  const settings = useResource(() => (isAdmin ? api<{ anonymousPull: boolean; shared: boolean }>(`/v1/repositories/${repository}`) : Promise.resolve(null)), [repository, isAdmin]);
  const writable = mayWriteRepository(session, repository);
  return (
    <section class="card repo" aria-labelledby={`repo-${repository}`}>
      <div class="repo-head">
        <h2 id={`repo-${repository}`} class="mono">
          {repository}
        </h2>
        {settings.data && (
          <span class="repo-settings">
            {settings.data.shared && <Badge tone="info">shared</Badge>}
            <Badge tone={settings.data.anonymousPull ? 'warn' : 'muted'}>{settings.data.anonymousPull ? 'anonymous pull on' : 'sign-in to pull'}</Badge>
            <ActionButton
              label={settings.data.anonymousPull ? 'Turn anonymous pull off' : 'Allow anonymous pull'}
              run={() => api(`/v1/repositories/${repository}`, { method: 'PATCH', body: { anonymousPull: !settings.data!.anonymousPull } })}
              onDone={settings.reload}
            />
          </span>
        )}
      </div>
      <CopyField label={`push command for ${repository}`} value={`docker tag IMAGE ${registry}/${repository}:TAG && docker push ${registry}/${repository}:TAG`} />
      <Table caption={`Tags of ${repository}`} columns={['Tag', 'Digest', 'Size', 'Created', 'Cached on', 'Pull', writable && 'Actions']}>
        {tags.map((image) => (
          <tr key={image.tag}>
            <td class="mono">{image.tag}</td>
            <td class="mono" title={image.digest}>
              {shortId(image.digest)}
            </td>
            <td>{bytes(image.sizeBytes)}</td>
            <td>{ago(image.created)}</td>
            <td>{image.hosts?.length ? image.hosts.join(', ') : <span class="muted">no host</span>}</td>
            <td>
              <CopyField label={`pull command for ${repository}:${image.tag}`} value={`docker pull ${image.reference}`} />
            </td>
            {writable && (
              <td>
                <ActionButton
                  label="Delete tag"
                  name={`Delete tag ${repository}:${image.tag}`}
                  danger
                  confirm={`Delete ${repository}:${image.tag}?`}
                  run={() => api(`/v1/images${query({ image: `${repository}:${image.tag}` })}`, { method: 'DELETE' })}
                  onDone={onChange}
                />
              </td>
            )}
          </tr>
        ))}
      </Table>
    </section>
  );
}
