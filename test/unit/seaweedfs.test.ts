import { weedMiniArgs, type WeedPorts } from '../../server/s3-server';
import { isUsableWeedVersion, parseWeedVersion, SEAWEEDFS_VERSION } from '../../server/seaweedfs';

describe('the SeaweedFS binary check', () => {
  test('reads the version `weed version` prints, stamped with its commit or not', () => {
    expect(parseWeedVersion('version 30GB 4.53 7506e5f91cd6 linux amd64\n')).toBe('4.53');
    expect(parseWeedVersion('version 8000GB 4.60  linux arm64\n')).toBe('4.60');
    expect(parseWeedVersion('temporal version 1.5.1')).toBeUndefined();
    expect(parseWeedVersion('')).toBeUndefined();
  });

  test('takes the pinned version or a later 4.x, nothing older and no other major', () => {
    expect(isUsableWeedVersion(SEAWEEDFS_VERSION)).toBe(true);
    expect(isUsableWeedVersion('4.60')).toBe(true);
    expect(isUsableWeedVersion('4.07')).toBe(false);
    expect(isUsableWeedVersion('3.99')).toBe(false);
    expect(isUsableWeedVersion('5.00')).toBe(false);
  });
});

describe('the weed mini command line', () => {
  const ports: WeedPorts = {
    s3: 40001,
    s3Grpc: 40002,
    master: 40003,
    masterGrpc: 40004,
    volume: 40005,
    volumeGrpc: 40006,
    filer: 40007,
    filerGrpc: 40008,
    admin: 40009,
    adminGrpc: 40010,
  };
  const args = weedMiniArgs('/data/s3', ports);

  test('gives every listener its port, on loopback only', () => {
    expect(args.slice(0, 2)).toEqual(['-logtostderr', 'mini']);
    expect(args).toEqual(expect.arrayContaining(['-dir=/data/s3', '-ip=127.0.0.1', '-ip.bind=127.0.0.1']));
    const given = args
      .filter((arg) => /^-[\w.]+\.port(\.grpc)?=\d+$/.test(arg))
      .map((arg) => Number(arg.split('=')[1]));
    expect(given.sort()).toEqual(Object.values(ports).sort());
  });

  test('turns off the listeners it has no use for, and telemetry', () => {
    expect(args).toEqual(
      expect.arrayContaining([
        '-admin.port.legacy=0',
        '-s3.port.iceberg=0',
        '-s3.port.lance=0',
        '-webdav=false',
        '-master.telemetry=false',
      ]),
    );
  });
});
