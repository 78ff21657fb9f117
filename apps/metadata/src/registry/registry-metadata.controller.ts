import { Controller } from '@nestjs/common';
import { HandleRequest } from '@muelle/bus';
import {
  advanceUpload,
  commitBlob,
  confirmGarbage,
  createUpload,
  deleteBlob,
  deleteManifest,
  deleteUpload,
  expireUploads,
  getManifest,
  getRepository,
  getUpload,
  knownBlobs,
  listCatalog,
  listReferrers,
  listTags,
  markGarbage,
  mountBlob,
  putManifest,
  registrySigningKey,
  setRepositoryAnonymousPull,
  setRepositoryShared,
  statBlob,
  type ParsedRequestOf,
} from '@muelle/contracts';
import { RegistryMetadataService } from './registry-metadata.service';
import { RegistryGarbageService } from './registry-garbage.service';

/** Bus handlers of the registry contracts; the logic lives in RegistryMetadataService. */
@Controller()
export class RegistryMetadataController {
  constructor(
    private readonly registry: RegistryMetadataService,
    private readonly garbage: RegistryGarbageService,
  ) {}

  @HandleRequest(getRepository)
  getRepository(r: ParsedRequestOf<typeof getRepository>) {
    return this.registry.getRepository(r.name);
  }

  @HandleRequest(setRepositoryAnonymousPull)
  setAnonymousPull(r: ParsedRequestOf<typeof setRepositoryAnonymousPull>) {
    return this.registry.setAnonymousPull(r.name, r.anonymousPull);
  }

  @HandleRequest(setRepositoryShared)
  setShared(r: ParsedRequestOf<typeof setRepositoryShared>) {
    return this.registry.setShared(r.name, r.shared);
  }

  @HandleRequest(listCatalog)
  listCatalog(r: ParsedRequestOf<typeof listCatalog>) {
    return this.registry.listCatalog(r.n, r.last);
  }

  @HandleRequest(statBlob)
  statBlob(r: ParsedRequestOf<typeof statBlob>) {
    return this.registry.statBlob(r.repository, r.digest);
  }

  @HandleRequest(commitBlob)
  commitBlob(r: ParsedRequestOf<typeof commitBlob>) {
    return this.registry.commitBlob(r.repository, r.digest, r.size, r.upload);
  }

  @HandleRequest(mountBlob)
  mountBlob(r: ParsedRequestOf<typeof mountBlob>) {
    return this.registry.mountBlob(r.repository, r.from, r.digest);
  }

  @HandleRequest(deleteBlob)
  deleteBlob(r: ParsedRequestOf<typeof deleteBlob>) {
    return this.registry.deleteBlob(r.repository, r.digest);
  }

  @HandleRequest(knownBlobs)
  knownBlobs(r: ParsedRequestOf<typeof knownBlobs>) {
    return this.registry.knownBlobs(r.digests);
  }

  @HandleRequest(putManifest)
  putManifest(r: ParsedRequestOf<typeof putManifest>) {
    return this.registry.putManifest(r);
  }

  @HandleRequest(getManifest)
  getManifest(r: ParsedRequestOf<typeof getManifest>) {
    return this.registry.getManifest(r.repository, r.reference);
  }

  @HandleRequest(deleteManifest)
  deleteManifest(r: ParsedRequestOf<typeof deleteManifest>) {
    return this.registry.deleteManifest(r.repository, r.reference);
  }

  @HandleRequest(listTags)
  listTags(r: ParsedRequestOf<typeof listTags>) {
    return this.registry.listTags(r.repository, r.n, r.last);
  }

  @HandleRequest(listReferrers)
  listReferrers(r: ParsedRequestOf<typeof listReferrers>) {
    return this.registry.listReferrers(r.repository, r.digest, r.artifactType);
  }

  @HandleRequest(createUpload)
  createUpload(r: ParsedRequestOf<typeof createUpload>) {
    return this.registry.createUpload(r.id, r.repository, r.principal);
  }

  @HandleRequest(getUpload)
  getUpload(r: ParsedRequestOf<typeof getUpload>) {
    return this.registry.getUpload(r.id);
  }

  @HandleRequest(advanceUpload)
  advanceUpload(r: ParsedRequestOf<typeof advanceUpload>) {
    return this.registry.advanceUpload(r.id, r.expectedOffset, r.part);
  }

  @HandleRequest(deleteUpload)
  deleteUpload(r: ParsedRequestOf<typeof deleteUpload>) {
    return this.registry.deleteUpload(r.id);
  }

  @HandleRequest(expireUploads)
  expireUploads(r: ParsedRequestOf<typeof expireUploads>) {
    return this.registry.expireUploads(r.idleSeconds, r.limit);
  }

  @HandleRequest(markGarbage)
  markGarbage(r: ParsedRequestOf<typeof markGarbage>) {
    return this.garbage.markGarbage(r);
  }

  @HandleRequest(confirmGarbage)
  confirmGarbage(r: ParsedRequestOf<typeof confirmGarbage>) {
    return this.garbage.confirmGarbage(r.digests);
  }

  @HandleRequest(registrySigningKey)
  signingKey() {
    return this.registry.signingKey();
  }
}
