namespace Keel.Drivers.Virtio;

/// <summary>How a block request ended; the values are virtio-blk's status byte (virtio 1.2 5.2.6).</summary>
public enum BlockStatus : byte
{
    /// <summary>VIRTIO_BLK_S_OK.</summary>
    Ok = 0,

    /// <summary>VIRTIO_BLK_S_IOERR, also reported for a request the driver found malformed, and for a status
    /// byte the device left unwritten or filled with a value the specification does not define.</summary>
    IoError = 1,

    /// <summary>VIRTIO_BLK_S_UNSUPP: the request type is not supported.</summary>
    Unsupported = 2,
}
