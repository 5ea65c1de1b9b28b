using System;
using Keel.Ringlib.Protocols;

namespace Keel.Guests.Control.Store;

/// <summary>What the control domain knows of a virtual block device it wires up (one manifest disk).</summary>
public struct StoreDiskSeed
{
    public uint Frontend;
    public uint Backend;

    /// <summary>Xen's virtual-device number: 202 &lt;&lt; 8 | index &lt;&lt; 4 for xvd&lt;a + index&gt; (xen-vbd-interface.7).</summary>
    public uint DeviceId;
    public bool Writable;
}

public static partial class StoreSeeder
{
    /// <summary>The virtual-device number of xvda, xvdb, ... (xen-vbd-interface.7: major 202, 16 minors a disk).</summary>
    public static uint XvdDeviceId(int index) => (202u << 8) | ((uint)index << 4);

    /// <summary>
    /// Writes a virtual block device's two directories as libxl's device_disk_add does
    /// (tools/libs/light/libxl_disk.c, libxl_device.c libxl__device_generic_add): the back-end's under
    /// /local/domain/BE/backend/vbd/FE/DEVID, owned by the back-end and readable by the front-end (frontend,
    /// frontend-id, online, removable, bootable, state, dev, type, mode, params, device-type), and the
    /// front-end's under /local/domain/FE/device/vbd/DEVID, owned by the front-end and readable by the
    /// back-end (backend, backend-id, state, virtual-device, device-type). <paramref name="parameters"/> is
    /// the params node (Keel's target: "vda" or "vda:START+COUNT"). With <paramref name="frontendToo"/>
    /// false only the back-end's side is written and the front-end is pointed at it (backend, backend-id):
    /// a restarted back-end, whose front-end keeps its own nodes and state.
    /// </summary>
    public static StoreError SeedDisk(StoreServer store, in StoreDiskSeed seed, ReadOnlySpan<byte> vdev, ReadOnlySpan<byte> parameters, bool frontendToo)
    {
        Span<byte> backendPath = stackalloc byte[96];
        Span<byte> frontendPath = stackalloc byte[96];
        Span<byte> scratch = stackalloc byte[128];
        Span<byte> number = stackalloc byte[24];
        Span<byte> backendPerms = stackalloc byte[32];
        Span<byte> frontendPerms = stackalloc byte[32];
        ReadOnlySpan<byte> back = BackendPath(seed, backendPath);
        ReadOnlySpan<byte> front = FrontendPath(seed, frontendPath);
        int length = Entry(backendPerms, 0, (byte)'n', seed.Backend);
        ReadOnlySpan<byte> backPerms = backendPerms.Slice(0, Entry(backendPerms, length, (byte)'r', seed.Frontend));
        length = Entry(frontendPerms, 0, (byte)'n', seed.Frontend);
        ReadOnlySpan<byte> frontPerms = frontendPerms.Slice(0, Entry(frontendPerms, length, (byte)'r', seed.Backend));

        StoreError error = Directory(store, back, backPerms);
        error = Then(error, Write(store, scratch, back, "/frontend"u8, front));
        error = Then(error, Write(store, scratch, back, "/frontend-id"u8, Number(number, seed.Frontend)));
        error = Then(error, Write(store, scratch, back, "/online"u8, "1"u8));
        error = Then(error, Write(store, scratch, back, "/removable"u8, "0"u8));
        error = Then(error, Write(store, scratch, back, "/bootable"u8, "1"u8));
        error = Then(error, Write(store, scratch, back, "/state"u8, "1"u8));
        error = Then(error, Write(store, scratch, back, "/dev"u8, vdev));
        error = Then(error, Write(store, scratch, back, "/type"u8, "phy"u8));
        error = Then(error, Write(store, scratch, back, "/mode"u8, seed.Writable ? "w"u8 : "r"u8));
        error = Then(error, Write(store, scratch, back, "/params"u8, parameters));
        error = Then(error, Write(store, scratch, back, "/device-type"u8, "disk"u8));
        if (frontendToo)
        {
            error = Then(error, Directory(store, front, frontPerms));
            error = Then(error, Write(store, scratch, front, "/state"u8, "1"u8));
            error = Then(error, Write(store, scratch, front, "/virtual-device"u8, Number(number, seed.DeviceId)));
            error = Then(error, Write(store, scratch, front, "/device-type"u8, "disk"u8));
        }
        else
        {
            // Each node carries its own permissions (a child takes its parent's when made): the front-end's
            // directory and everything it wrote in it were readable by the old back-end only.
            error = Then(error, Repermit(store, front, frontPerms, scratch));
        }
        // The front-end's pointers last: a front-end watching them finds the back-end's directory complete.
        error = Then(error, Write(store, scratch, front, "/backend-id"u8, Number(number, seed.Backend)));
        return Then(error, Write(store, scratch, front, "/backend"u8, back));
    }

    /// <summary>Gives a directory and each of its children the permissions given (one level: a front-end's device directory is flat).</summary>
    private static StoreError Repermit(StoreServer store, ReadOnlySpan<byte> directory, ReadOnlySpan<byte> perms, Span<byte> scratch)
    {
        StoreError error = store.SetPermissions(directory, perms);
        Span<byte> names = stackalloc byte[1024];
        error = Then(error, store.Directory(directory, names, out int length));
        int at = 0;
        while (error == StoreError.None && at < length)
        {
            int end = at;
            while (end < length && names[end] != 0) end++;
            if (end > at && directory.Length + 1 + end - at <= scratch.Length)
            {
                directory.CopyTo(scratch);
                scratch[directory.Length] = (byte)'/';
                names.Slice(at, end - at).CopyTo(scratch.Slice(directory.Length + 1));
                error = store.SetPermissions(scratch.Slice(0, directory.Length + 1 + end - at), perms);
            }
            at = end + 1;
        }
        return error;
    }

    /// <summary>/local/domain/BE/backend/vbd/FE/DEVID into destination.</summary>
    public static ReadOnlySpan<byte> BackendPath(in StoreDiskSeed seed, Span<byte> destination)
    {
        int length = StorePath.DomainPath(seed.Backend, destination);
        length += Join(destination.Slice(length), "/backend/vbd/"u8, seed.Frontend, "/"u8);
        length += DecimalText.Write(seed.DeviceId, destination.Slice(length));
        return destination.Slice(0, length);
    }

    /// <summary>/local/domain/FE/device/vbd/DEVID into destination.</summary>
    public static ReadOnlySpan<byte> FrontendPath(in StoreDiskSeed seed, Span<byte> destination)
    {
        int length = StorePath.DomainPath(seed.Frontend, destination);
        length += Join(destination.Slice(length), "/device/vbd/"u8, seed.DeviceId, default);
        return destination.Slice(0, length);
    }
}
