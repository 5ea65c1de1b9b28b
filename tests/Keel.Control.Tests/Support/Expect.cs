using Keel.Ringlib.Protocols;

namespace Keel.Control.Tests.Support;

public static class Expect
{
    public static void Ok(StoreMessage reply)
    {
        Assert.True(reply.Type != StoreMessageType.Error, "expected success, got " + reply);
        Assert.Equal("OK\0", reply.Text);
    }

    public static void Error(StoreError error, StoreMessage reply)
    {
        Assert.True(reply.Type == StoreMessageType.Error, "expected " + error + ", got " + reply);
        Assert.Equal(error.ToString() + "\0", reply.Text);
    }

    public static void Value(string value, StoreMessage reply)
    {
        Assert.True(reply.Type != StoreMessageType.Error, "expected a value, got " + reply);
        Assert.Equal(value, reply.Text);
    }

    public static void Strings(StoreMessage reply, params string[] strings)
    {
        Assert.True(reply.Type != StoreMessageType.Error, "expected strings, got " + reply);
        Assert.Equal(strings, reply.Strings);
    }
}
