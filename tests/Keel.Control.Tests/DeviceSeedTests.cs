using Keel.Control.Tests.Support;
using Keel.Guests.Control.Store;
using Keel.Ringlib.Protocols;

namespace Keel.Control.Tests;

/// <summary>The store nodes the control domain writes to wire a guest's virtual disk to its back-end.</summary>
public sealed class DeviceSeedTests
{
    private static TestStore Seeded(out StoreDiskSeed disk)
    {
        var store = new TestStore(domains: 4);
        foreach (uint id in new uint[] { 1, 2 })
        {
            var seed = new StoreDomainSeed { Domid = id, TargetKiB = 16384, MaxKiB = 16384, Vcpus = 1, StoreMfn = 100 + id, StorePort = 1 };
            Assert.Equal(StoreError.None, StoreSeeder.SeedDomain(store.Server, seed, id == 1 ? "blkback"u8 : "guest"u8));
        }
        disk = new StoreDiskSeed { Frontend = 2, Backend = 1, DeviceId = StoreSeeder.XvdDeviceId(1), Writable = true };
        Assert.Equal(StoreError.None, StoreSeeder.SeedDisk(store.Server, disk, "xvdb"u8, "vda:2048+4096"u8, frontendToo: true));
        return store;
    }

    [Fact]
    public void A_disk_gets_libxls_back_end_and_front_end_nodes_each_owned_by_its_end_and_readable_by_the_other()
    {
        using TestStore store = Seeded(out _);
        const string back = "/local/domain/1/backend/vbd/2/51728", front = "/local/domain/2/device/vbd/51728";
        Expect.Value(front, store.Read(0, back + "/frontend"));
        Expect.Value("2", store.Read(0, back + "/frontend-id"));
        Expect.Value("1", store.Read(0, back + "/state"));
        Expect.Value("xvdb", store.Read(0, back + "/dev"));
        Expect.Value("w", store.Read(0, back + "/mode"));
        Expect.Value("vda:2048+4096", store.Read(0, back + "/params"));
        Expect.Value("disk", store.Read(0, back + "/device-type"));
        Expect.Value(back, store.Read(0, front + "/backend"));
        Expect.Value("1", store.Read(0, front + "/backend-id"));
        Expect.Value("51728", store.Read(0, front + "/virtual-device"));
        Expect.Value("1", store.Read(0, front + "/state"));
        Expect.Strings(store.GetPerms(0, back), "n1", "r2");
        Expect.Strings(store.GetPerms(0, front), "n2", "r1");
    }

    [Fact]
    public void Each_end_may_write_its_own_state_and_read_the_others_but_not_write_it()
    {
        using TestStore store = Seeded(out _);
        const string back = "/local/domain/1/backend/vbd/2/51728", front = "/local/domain/2/device/vbd/51728";
        Expect.Ok(store.Write(1, back + "/state", "2"));
        Expect.Ok(store.Write(1, back + "/sectors", "4096"));
        Expect.Ok(store.Write(2, front + "/ring-ref", "8"));
        Expect.Value("8", store.Read(1, front + "/ring-ref"));
        Expect.Value("4096", store.Read(2, back + "/sectors"));
        Expect.Error(StoreError.EACCES, store.Write(2, back + "/state", "4"));
        Expect.Error(StoreError.EACCES, store.Write(1, front + "/state", "4"));
        // A third domain sees neither.
        Expect.Error(StoreError.EACCES, store.Read(3, back + "/params"));
        Expect.Error(StoreError.EACCES, store.Read(3, front + "/ring-ref"));
    }

    [Fact]
    public void A_restarted_back_end_gets_a_fresh_directory_and_the_front_end_keeps_its_nodes_but_is_pointed_at_it()
    {
        using TestStore store = Seeded(out StoreDiskSeed disk);
        const string front = "/local/domain/2/device/vbd/51728";
        Expect.Ok(store.Write(2, front + "/state", "4"));
        var seed = new StoreDomainSeed { Domid = 3, TargetKiB = 16384, MaxKiB = 16384, Vcpus = 1, StoreMfn = 103, StorePort = 1 };
        Assert.Equal(StoreError.None, StoreSeeder.SeedDomain(store.Server, seed, "blkback"u8));
        disk.Backend = 3;
        Assert.Equal(StoreError.None, StoreSeeder.SeedDisk(store.Server, disk, "xvdb"u8, "vda:2048+4096"u8, frontendToo: false));
        Expect.Value("/local/domain/3/backend/vbd/2/51728", store.Read(0, front + "/backend"));
        Expect.Value("3", store.Read(0, front + "/backend-id"));
        Expect.Value("4", store.Read(0, front + "/state"));
        // The new back-end may read the front-end's nodes, the old one no longer.
        Expect.Strings(store.GetPerms(0, front), "n2", "r3");
        Expect.Strings(store.GetPerms(0, front + "/state"), "n2", "r3");
        Expect.Value("4", store.Read(3, front + "/state"));
        Expect.Error(StoreError.EACCES, store.Read(1, front + "/state"));
        Expect.Value("1", store.Read(0, "/local/domain/3/backend/vbd/2/51728/state"));
    }
}
