namespace Keel.Drivers.Virtio;

/// <summary>A finished block request: the token it was submitted with and how it ended.</summary>
public readonly struct BlockCompletion
{
    /// <summary>The caller's token from <see cref="VirtioBlock.TrySubmit"/>.</summary>
    public ulong Token { get; }

    /// <summary>How the request ended.</summary>
    public BlockStatus Status { get; }

    /// <summary>A completion of the request <paramref name="token"/>.</summary>
    public BlockCompletion(ulong token, BlockStatus status)
    {
        Token = token;
        Status = status;
    }
}
