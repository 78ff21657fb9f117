import { HostId } from '@muelle/contracts';
import { z } from 'zod';
import { queryBool } from '../http/validation';

const ImageRef = z.string().min(1).max(1024);
export const RegistryLogin = z.object({
  username: z.string().min(1).max(256),
  password: z.string().max(4096),
});

export const ListImagesQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(255).optional(),
  /** Ask every ready host which images it has cached (slower). */
  hosts: queryBool(true),
});

export const PullBody = z.object({
  /** Any OCI reference: `127.0.0.1:5001/team/app:1` is copied into Muelle's registry. */
  image: ImageRef,
  /** Name in Muelle's registry; default: the source's repository and tag. */
  as: ImageRef.optional(),
  /** Also pre-fetch onto these hosts (`["*"]` = every ready host). */
  hosts: z.array(z.union([HostId, z.literal('*')])).default([]),
  /** Credentials for the source registry. */
  sourceAuth: RegistryLogin.optional(),
});
export type PullBody = z.output<typeof PullBody>;

export const TagBody = z.object({ source: ImageRef, target: ImageRef });

export const PushBody = z.object({
  /** Where to: `registry/repo:tag`; the image is Muelle's `repo:tag`. */
  image: ImageRef,
  targetAuth: RegistryLogin.optional(),
});
export type PushBody = z.output<typeof PushBody>;

export const RemoveImageQuery = z.object({
  /** Also forget it on every host that cached it. */
  hosts: queryBool(false),
  force: queryBool(false),
});

/** `muelle save`: one or more images (`?image=a&image=b`). */
export const SaveImagesQuery = z.object({ image: z.union([z.string().min(1).max(1024), z.array(z.string().min(1).max(1024)).min(1).max(100)]).transform((v) => (Array.isArray(v) ? v : [v])) });
