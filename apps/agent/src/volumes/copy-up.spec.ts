import { execFileSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ContainerSpec } from "@muelle/contracts";
import { directoryRoot } from "@muelle/images";
import { copyUp, NodeMaker, prepareVolumes } from "./copy-up";
import { VolumeStore } from "./volume-store";

/** FIFOs with the system's mkfifo (the agent's own go through the root helper). */
const nodes: NodeMaker = {
  mknod: async (path, kind, mode) => {
    if (kind !== "fifo") throw new Error(`test makes fifos only, not ${kind}`);
    execFileSync("mkfifo", ["-m", (mode & 0o777).toString(8), path]);
  },
};

describe("volume copy-up", () => {
  let dir: string;
  let rootfs: string;
  let store: VolumeStore;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "copy-up-"));
    rootfs = join(dir, "root");
    // The image's /data: a file owned by 1000:1000 with setuid, a nested dir, a symlink out of the root, a hard link, a fifo.
    mkdirSync(join(rootfs, "data/sub"), { recursive: true });
    writeFileSync(join(rootfs, "data/app.conf"), "port=80\n");
    chownSync(join(rootfs, "data/app.conf"), 1000, 1000);
    chmodSync(join(rootfs, "data/app.conf"), 0o4750);
    writeFileSync(join(rootfs, "data/sub/deep"), "deep");
    linkSync(join(rootfs, "data/sub/deep"), join(rootfs, "data/sub/again"));
    symlinkSync("/etc/shadow", join(rootfs, "data/shadow"));
    execFileSync("mkfifo", [join(rootfs, "data/pipe")]);
    utimesSync(
      join(rootfs, "data/sub"),
      new Date("2020-01-02T03:04:05Z"),
      new Date("2020-01-02T03:04:05Z"),
    );
    chownSync(join(rootfs, "data"), 33, 33);
    chmodSync(join(rootfs, "data"), 0o770);
    // Symlinks on the way to the mount point resolve inside the root, never on the host.
    symlinkSync("/data", join(rootfs, "alias"));
    mkdirSync(join(rootfs, "etc"));
    symlinkSync("/etc", join(rootfs, "hostetc"));
    store = new VolumeStore(join(dir, "host"));
    await store.init();
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("copies the image's directory into the volume: contents, owners, modes, times, hard links, fifos; symlinks kept as links", async () => {
    const volume = join(dir, "vol");
    mkdirSync(volume);
    expect(await copyUp(rootfs, "/alias", volume, nodes)).toBe(true);
    expect(readdirSync(volume).sort()).toEqual([
      "app.conf",
      "pipe",
      "shadow",
      "sub",
    ]);
    expect(readFileSync(join(volume, "app.conf"), "utf8")).toBe("port=80\n");
    expect(lstatSync(join(volume, "app.conf"))).toMatchObject({
      uid: 1000,
      gid: 1000,
      mode: 0o104750,
    });
    expect(readlinkSync(join(volume, "shadow"))).toBe("/etc/shadow");
    expect(lstatSync(join(volume, "pipe")).isFIFO()).toBe(true);
    expect(lstatSync(join(volume, "sub/again")).ino).toBe(
      lstatSync(join(volume, "sub/deep")).ino,
    );
    expect(lstatSync(join(volume, "sub")).mtime.toISOString()).toBe(
      "2020-01-02T03:04:05.000Z",
    );
    // The volume's own directory takes the image directory's owner and mode, as dockerd.
    expect(lstatSync(volume)).toMatchObject({
      uid: 33,
      gid: 33,
      mode: 0o40770,
    });
  });

  it("copies nothing for a path the image does not have or that is not a directory, and resolves /etc inside the root", async () => {
    const volume = join(dir, "vol");
    mkdirSync(volume);
    expect(await copyUp(rootfs, "/missing", volume, nodes)).toBe(false);
    expect(await copyUp(rootfs, "/data/app.conf", volume, nodes)).toBe(false);
    expect(await copyUp(rootfs, "/hostetc", volume, nodes)).toBe(true);
    expect(readdirSync(volume)).toEqual([]);
  });

  const spec = (volumes: Array<{ source: string; target: string }>) =>
    ContainerSpec.parse({
      image: "x",
      volumes: volumes.map((v) => ({ kind: "volume", ...v })),
    });

  it("makes the volumes and fills only the empty ones no other container mounts, mounting the root only then", async () => {
    const mounts: string[] = [];
    const onMountedRoot = async (work: (root: string) => Promise<void>) => {
      mounts.push(rootfs);
      await work(rootfs);
    };
    await store.ensure("full");
    writeFileSync(join(store.dataPath("full"), "mine"), "kept");
    const others = [spec([{ source: "shared", target: "/x" }])];
    const filled = await prepareVolumes({
      spec: spec([
        { source: "fresh", target: "/data" },
        { source: "full", target: "/data" },
        { source: "shared", target: "/data" },
        { source: "nothing", target: "/missing" },
      ]),
      image: directoryRoot(rootfs),
      volumes: store,
      nodes,
      others,
      onMountedRoot,
    });
    expect(filled).toEqual(["/data"]);
    expect(mounts).toHaveLength(1);
    expect(readdirSync(store.dataPath("fresh")).sort()).toEqual([
      "app.conf",
      "pipe",
      "shadow",
      "sub",
    ]);
    expect(readdirSync(store.dataPath("full"))).toEqual(["mine"]);
    expect(readdirSync(store.dataPath("shared"))).toEqual([]);
    expect(readdirSync(store.dataPath("nothing"))).toEqual([]);

    // The same container again: nothing empty is left to fill, nothing is mounted.
    await prepareVolumes({
      spec: spec([{ source: "nothing", target: "/missing" }]),
      image: directoryRoot(rootfs),
      volumes: store,
      nodes,
      others: [],
      onMountedRoot,
    });
    expect(mounts).toHaveLength(1);
  });
});
