// size: data, not logic — one entry per /v1 route with the zod schema its controller validates with; split by
// resource it would only scatter one table that the OpenAPI test reads whole.
import { z } from 'zod';
import { CreateTokenBody } from '../auth/tokens.controller';
import { SignInBody } from '../auth/session.controller';
import { ListUsersQuery, SetPasswordBody } from '../accounts/users.controller';
import {
  ArchiveQuery,
  CreateContainerBody,
  ExecBody,
  KillQuery,
  ListContainersQuery,
  LogsQuery,
  PruneQuery,
  PutArchiveQuery,
  RemoveQuery,
  RenameQuery,
  StatsQuery,
  StopQuery,
  TerminalSizeQuery,
  WaitQuery,
} from '../containers/containers.schemas';
import { BuildQuery, ListBuildsQuery, PruneBuildCacheBody } from '../builds/builds.schemas';
import { EventsQuery } from '../events/events.controller';
import { ListHostsQuery } from '../hosts/hosts.controller';
import { PruneBody } from '../system/system.controller';
import { ConnectNetworkBody, CreateNetworkBody, DisconnectNetworkBody } from '../networks/networks.schemas';
import { CreateVolumeBody, PruneVolumesBody } from '../volumes/volumes.schemas';
import { CreateServiceBody, ReplaceServiceBody, ScaleBody, ServiceLogsQuery, UpdateServiceBody } from '../services/services.schemas';
import { ImageQuery, PruneImagesBody } from '../images/images.controller';
import { ListImagesQuery, PullBody, PushBody, RemoveImageQuery, SaveImagesQuery, TagBody } from '../images/images.schemas';
import { UpdateRepositoryBody } from '../repositories/repositories.controller';
import { CreateTeamBody, CreateUserBody, ListAuditQuery } from '../teams/teams.controller';
import { TeamPolicyBody, TeamQuotaBody } from '../teams/team-limits.controller';

export interface Route {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  path: string;
  summary: string;
  tag: string;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** Content type of a streamed success reply. */
  streams?: string;
  status?: number;
  public?: boolean;
}

/** Every /v1 route, with the very zod schemas its controller validates with. */
export const routes: Route[] = [
  {
    method: 'get',
    path: '/v1/version',
    summary: 'Name and version (no auth)',
    tag: 'system',
    public: true,
  },
  {
    method: 'post',
    path: '/v1/auth/tokens',
    summary: 'Trade credentials for an API token (ttlSeconds, scopes), or make a robot token for a team (team + scopes)',
    tag: 'auth',
    body: CreateTokenBody,
  },
  {
    method: 'post',
    path: '/v1/auth/session',
    summary: 'Console sign-in: sets the HttpOnly, SameSite=Strict session cookie; answers the user and the CSRF token that cookie-borne changes must send (X-Muelle-CSRF)',
    tag: 'auth',
    body: SignInBody,
    status: 201,
    public: true,
  },
  {
    method: 'get',
    path: '/v1/auth/session',
    summary: "The cookie session's user, expiry and CSRF token",
    tag: 'auth',
  },
  {
    method: 'delete',
    path: '/v1/auth/session',
    summary: "Sign out: revokes the session's token and clears the cookie",
    tag: 'auth',
    status: 204,
  },
  {
    method: 'get',
    path: '/v1/auth/tokens',
    summary: "Live tokens: one's own and one's team's robots (admin: all)",
    tag: 'auth',
  },
  {
    method: 'delete',
    path: '/v1/auth/tokens/{id}',
    summary: "Revoke a token (own, one's team's robot, or any for an admin); every replica refuses it within seconds",
    tag: 'auth',
  },
  {
    method: 'get',
    path: '/v1/users',
    summary: 'Users (admin: all, or one team; member: its team)',
    tag: 'tenancy',
    query: ListUsersQuery,
  },
  {
    method: 'get',
    path: '/v1/users/{user}',
    summary: 'One user by id or username',
    tag: 'tenancy',
  },
  {
    method: 'post',
    path: '/v1/users/{user}/disable',
    summary: 'Disable a user: its logins and tokens stop working (admin)',
    tag: 'tenancy',
  },
  {
    method: 'post',
    path: '/v1/users/{user}/enable',
    summary: 'Re-enable a user (admin)',
    tag: 'tenancy',
  },
  {
    method: 'post',
    path: '/v1/users/{user}/password',
    summary: 'Change your own password (currentPassword required) or reset another user\'s (admin)',
    tag: 'tenancy',
    body: SetPasswordBody,
  },
  {
    method: 'get',
    path: '/v1/me',
    summary: 'The caller, its role and team',
    tag: 'auth',
  },
  {
    method: 'post',
    path: '/v1/containers',
    summary: 'Create (and with start=true run) a container; the scheduler picks the host',
    tag: 'containers',
    body: CreateContainerBody,
    status: 201,
  },
  {
    method: 'get',
    path: '/v1/containers',
    summary: 'List containers (running only unless all=true)',
    tag: 'containers',
    query: ListContainersQuery,
  },
  {
    method: 'get',
    path: '/v1/containers/{ref}',
    summary: 'Inspect: record plus the agent runtime view',
    tag: 'containers',
  },
  {
    method: 'post',
    path: '/v1/containers/prune',
    summary: 'Remove your stopped containers (label=k[=v] narrows it); replies {removed: [ids]}',
    tag: 'containers',
    query: PruneQuery,
  },
  {
    method: 'post',
    path: '/v1/containers/{ref}/start',
    summary: 'Start',
    tag: 'containers',
  },
  {
    method: 'post',
    path: '/v1/containers/{ref}/stop',
    summary: 'Stop (signal, then SIGKILL after timeout)',
    tag: 'containers',
    query: StopQuery,
  },
  {
    method: 'post',
    path: '/v1/containers/{ref}/kill',
    summary: 'Send a signal',
    tag: 'containers',
    query: KillQuery,
  },
  {
    method: 'post',
    path: '/v1/containers/{ref}/restart',
    summary: 'Restart',
    tag: 'containers',
    query: StopQuery,
  },
  {
    method: 'get',
    path: '/v1/containers/{ref}/top',
    summary: 'Its processes: {titles, processes} (UID, PID, PPID, TIME, CMD)',
    tag: 'containers',
  },
  {
    method: 'get',
    path: '/v1/containers/{ref}/archive/stat',
    summary: 'What a path names inside it (running or stopped): {name, size, mode, mtime, linkTarget}, as Docker',
    tag: 'containers',
    query: ArchiveQuery,
  },
  {
    method: 'get',
    path: '/v1/containers/{ref}/archive',
    summary: 'A tar of a path inside it (muelle cp out); the path stat in X-Docker-Container-Path-Stat',
    tag: 'containers',
    query: ArchiveQuery,
    streams: 'application/x-tar',
  },
  {
    method: 'put',
    path: '/v1/containers/{ref}/archive',
    summary: 'Extract the tar body into a directory inside it (muelle cp in)',
    tag: 'containers',
    query: PutArchiveQuery,
  },
  {
    method: 'post',
    path: '/v1/containers/{ref}/rename',
    summary: 'Give it another name (CONFLICT when taken)',
    tag: 'containers',
    query: RenameQuery,
  },
  {
    method: 'post',
    path: '/v1/containers/{ref}/wait',
    summary: 'Wait until it stops; returns the exit code',
    tag: 'containers',
    query: WaitQuery,
  },
  {
    method: 'delete',
    path: '/v1/containers/{ref}',
    summary: 'Remove (force kills a running one)',
    tag: 'containers',
    query: RemoveQuery,
  },
  {
    method: 'get',
    path: '/v1/containers/{ref}/logs',
    summary: 'Logs as NDJSON {stream,data}; since/until bound them; follow keeps streaming (until then)',
    tag: 'containers',
    query: LogsQuery,
    streams: 'application/x-ndjson',
  },
  {
    method: 'get',
    path: '/v1/containers/{ref}/stats',
    summary: 'Resource usage; stream=true sends NDJSON every second',
    tag: 'containers',
    query: StatsQuery,
  },
  {
    method: 'post',
    path: '/v1/containers/{ref}/exec',
    summary: 'Register a command; run it over the exec WebSocket',
    tag: 'containers',
    body: ExecBody,
    status: 201,
  },
  {
    method: 'get',
    path: '/v1/containers/{ref}/exec/{execId}',
    summary: 'Exec state and exit code',
    tag: 'containers',
  },
  {
    method: 'get',
    path: '/v1/containers/{ref}/exec/{execId}/ws',
    summary: 'WebSocket: run the exec. Binary frames, first byte = type: 0 stdin, 1 stdout, 2 stderr, 3 resize {rows,cols}, 4 stdin end, 5 exit {exitCode}, 6 error; with ?stdin=1 on a tty exec, detachKeys (default ctrl-p,ctrl-q) end the session with exit {exitCode: 0, detached: true} and the command runs on with its input open (as dockerd leaves a tty exec); a client that closes the socket without detaching ends the command\'s input',
    tag: 'containers',
    query: TerminalSizeQuery,
  },
  {
    method: 'get',
    path: '/v1/containers/{ref}/attach/ws',
    summary: 'WebSocket: attach to the main process (same framing as exec; ?stdin=1)',
    tag: 'containers',
    query: TerminalSizeQuery,
  },
  {
    method: 'get',
    path: '/v1/images',
    summary: 'Images in the platform registry, with the hosts that cache them',
    tag: 'images',
    query: ListImagesQuery,
  },
  {
    method: 'get',
    path: '/v1/images/inspect',
    summary: 'One image: digest, size, created, manifest, hosts',
    tag: 'images',
    query: ImageQuery,
  },
  {
    method: 'get',
    path: '/v1/images/save',
    summary: 'A docker-archive tar of the images (?image=a&image=b), as docker save writes it',
    tag: 'images',
    query: SaveImagesQuery,
    streams: 'application/x-tar',
  },
  {
    method: 'post',
    path: '/v1/images/load',
    summary: 'Load a docker-archive tar (the body, as docker save writes it) into the registry: {loaded: ["Loaded image: …"]}',
    tag: 'images',
  },
  {
    method: 'post',
    path: '/v1/images/pull',
    summary: 'Copy an image from any registry into the platform registry; optional prefetch onto hosts',
    tag: 'images',
    body: PullBody,
    streams: 'application/x-ndjson',
  },
  {
    method: 'post',
    path: '/v1/images/tag',
    summary: 'Name an image anew',
    tag: 'images',
    body: TagBody,
  },
  {
    method: 'post',
    path: '/v1/images/push',
    summary: 'Send an image to the registry its name points to',
    tag: 'images',
    body: PushBody,
    streams: 'application/x-ndjson',
  },
  {
    method: 'post',
    path: '/v1/images/prune',
    summary: "Remove the caller's images no container uses: unnamed ones, or every one with all (as docker image prune [-a])",
    tag: 'images',
    body: PruneImagesBody,
  },
  {
    method: 'delete',
    path: '/v1/images',
    summary: 'Remove a tag or manifest (optionally from hosts too)',
    tag: 'images',
    query: ImageQuery.extend(RemoveImageQuery.shape),
  },
  {
    method: 'get',
    path: '/v1/repositories/{name}',
    summary: "A repository's registry settings: name, anonymousPull, shared, createdAt (members: those they may pull; another team's answers 404)",
    tag: 'repositories',
  },
  {
    method: 'patch',
    path: '/v1/repositories/{name}',
    summary:
      'Change registry settings (admin, audited): anonymousPull=true lets anyone pull without credentials; shared=true lets every signed-in user pull (like library/…); push stays with the team and admins',
    tag: 'repositories',
    body: UpdateRepositoryBody,
  },
  {
    method: 'post',
    path: '/v1/builds',
    summary: 'Build an image from a context tar (request body, plain or gzip); pushes the tags to the platform registry',
    tag: 'images',
    query: BuildQuery,
    streams: 'application/x-ndjson',
  },
  { method: 'post', path: '/v1/services', summary: 'Create a service: replicated tasks the reconciler keeps running', tag: 'services', body: CreateServiceBody, status: 201 },
  { method: 'get', path: '/v1/services', summary: 'List services', tag: 'services' },
  { method: 'get', path: '/v1/services/{ref}', summary: 'A service by name or id: spec, version, update state', tag: 'services' },
  { method: 'get', path: '/v1/services/{ref}/tasks', summary: "A service's tasks (containers), stopped ones too", tag: 'services' },
  { method: 'get', path: '/v1/services/{ref}/logs', summary: "The last lines of each task's log", tag: 'services', query: ServiceLogsQuery },
  { method: 'post', path: '/v1/services/{ref}/scale', summary: 'Change the number of replicas (no rolling update)', tag: 'services', body: ScaleBody },
  { method: 'patch', path: '/v1/services/{ref}', summary: 'Change fields of the spec; a change to what tasks run is rolled out batch by batch', tag: 'services', body: UpdateServiceBody },
  { method: 'put', path: '/v1/services/{ref}', summary: 'Set the whole spec (stack deploy); only a difference is written, and only a change to what tasks run is rolled out', tag: 'services', body: ReplaceServiceBody },
  { method: 'post', path: '/v1/services/{ref}/rollback', summary: 'Go back to the spec before the last update', tag: 'services' },
  { method: 'delete', path: '/v1/services/{ref}', summary: 'Remove a service and its tasks', tag: 'services' },
  { method: 'post', path: '/v1/networks', summary: "Create a team network (subnet from the address manager unless given; no overlap with any host or network)", tag: 'networks', body: CreateNetworkBody, status: 201 },
  { method: 'get', path: '/v1/networks', summary: "List networks (members: their team's; admins: all)", tag: 'networks' },
  { method: 'get', path: '/v1/networks/{ref}', summary: 'A network by name, id or unique id prefix', tag: 'networks' },
  { method: 'delete', path: '/v1/networks/{ref}', summary: 'Remove a network and give its subnet back', tag: 'networks' },
  { method: 'post', path: '/v1/networks/{ref}/connect', summary: 'Connect a container to the network (live when it runs, at its next start otherwise); its address from the address manager, at most 8 networks', tag: 'networks', body: ConnectNetworkBody },
  { method: 'post', path: '/v1/networks/{ref}/disconnect', summary: "Disconnect a container from the network (not its first one); force: no error when the record has it no longer, the host still drops it", tag: 'networks', body: DisconnectNetworkBody },
  { method: 'post', path: '/v1/volumes', summary: 'Create a named volume (driver local) on the least loaded host; an existing one of the name is returned', tag: 'volumes', body: CreateVolumeBody, status: 201 },
  { method: 'get', path: '/v1/volumes', summary: "List volumes with their host and the containers mounting them (members: their team's; admins: all)", tag: 'volumes' },
  { method: 'post', path: '/v1/volumes/prune', summary: "Remove the caller's team's volumes no container mounts", tag: 'volumes', body: PruneVolumesBody },
  { method: 'get', path: '/v1/volumes/{name}', summary: 'A volume by name', tag: 'volumes' },
  { method: 'delete', path: '/v1/volumes/{name}', summary: 'Remove a volume and its directory (409 naming the containers that mount it)', tag: 'volumes' },
  {
    method: 'get',
    path: '/v1/builds',
    summary: "Build records, newest first: state, tags, who, team, when, steps, digests, error (members: their team's; admins: all)",
    tag: 'images',
    query: ListBuildsQuery,
  },
  { method: 'get', path: '/v1/builds/cache', summary: "The build step cache: id, parent, instruction, size, in use, created, last used, uses (members: their team's; admins: all)", tag: 'images' },
  { method: 'post', path: '/v1/builds/cache/prune', summary: "Prune the caller's team's build cache (admins: all); entries a running build uses stay; until: unused for that long (24h)", tag: 'images', body: PruneBuildCacheBody },
  { method: 'get', path: '/v1/builds/{id}', summary: "One build record (another team's answers 404)", tag: 'images' },
  {
    method: 'get',
    path: '/v1/hosts',
    summary: 'Hosts with their reservations',
    tag: 'hosts',
    query: ListHostsQuery,
  },
  { method: 'get', path: '/v1/hosts/{id}', summary: 'One host', tag: 'hosts' },
  {
    method: 'post',
    path: '/v1/hosts/{id}/cordon',
    summary: 'Stop placing containers there (admin)',
    tag: 'hosts',
  },
  {
    method: 'post',
    path: '/v1/hosts/{id}/uncordon',
    summary: 'Place containers there again (admin)',
    tag: 'hosts',
  },
  {
    method: 'post',
    path: '/v1/hosts/{id}/drain',
    summary: 'Cordon and move restartable containers away (admin)',
    tag: 'hosts',
  },
  {
    method: 'post',
    path: '/v1/system/prune',
    summary: "Remove stopped containers (only those with every `label`, if given), images cached on hosts that no container uses (bytes freed per host), then run the registry's garbage collection: what no tag or manifest references (for graceSeconds, default 0) is deleted (admin)",
    tag: 'system',
    body: PruneBody,
  },
  {
    method: 'get',
    path: '/v1/system/df',
    summary: "The images the caller may read (size, containers made from each), its containers (writable layer's bytes) and its volumes (bytes, containers mounting each), sizes measured by their hosts, null when a host does not answer (as docker system df)",
    tag: 'system',
  },
  {
    method: 'get',
    path: '/v1/events',
    summary: 'Server-Sent Events of container, image and host changes: with since the history first, until ends the stream; filter=key=value as docker events',
    tag: 'events',
    query: EventsQuery,
    streams: 'text/event-stream',
  },
  {
    method: 'get',
    path: '/v1/teams',
    summary: 'Teams (admin)',
    tag: 'tenancy',
  },
  {
    method: 'post',
    path: '/v1/teams',
    summary: 'Create a team (admin)',
    tag: 'tenancy',
    body: CreateTeamBody,
    status: 201,
  },
  {
    method: 'get',
    path: '/v1/teams/{team}/policy',
    summary: "A team's policy: host-level options its members may use (admin; team name or id)",
    tag: 'tenancy',
  },
  {
    method: 'put',
    path: '/v1/teams/{team}/policy',
    summary: "Replace a team's policy (admin); fields left out are off",
    tag: 'tenancy',
    body: TeamPolicyBody,
  },
  {
    method: 'get',
    path: '/v1/teams/{team}/quota',
    summary: "A team's quota and current usage (admin)",
    tag: 'tenancy',
  },
  {
    method: 'put',
    path: '/v1/teams/{team}/quota',
    summary: "Replace a team's quota (admin); null or left out is unlimited",
    tag: 'tenancy',
    body: TeamQuotaBody,
  },
  {
    method: 'post',
    path: '/v1/users',
    summary: 'Create a user (admin)',
    tag: 'tenancy',
    body: CreateUserBody,
    status: 201,
  },
  {
    method: 'get',
    path: '/v1/audit',
    summary: 'Audit log, newest first (admin)',
    tag: 'tenancy',
    query: ListAuditQuery,
  },
];
