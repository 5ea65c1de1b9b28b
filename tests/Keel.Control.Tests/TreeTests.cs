using Keel.Control.Tests.Support;
using Keel.Guests.Control.Store;
using Keel.Ringlib.Protocols;

namespace Keel.Control.Tests;

/// <summary>READ, WRITE, MKDIR, RM, DIRECTORY and the path rules.</summary>
public sealed class TreeTests
{
    [Fact]
    public void A_written_value_reads_back_byte_for_byte_including_NULs()
    {
        using var store = new TestStore();
        Expect.Ok(store.Write(0, "/a", "x\0y"));
        Expect.Value("x\0y", store.Read(0, "/a"));
        Expect.Ok(store.Write(0, "/a", ""));
        Expect.Value("", store.Read(0, "/a"));
    }

    [Fact]
    public void The_initial_tree_has_the_root_tool_and_local_domain()
    {
        using var store = new TestStore();
        Expect.Strings(store.Directory(0, "/"), "local", "tool");
        Expect.Strings(store.Directory(0, "/tool"), "xenstored");
        Expect.Strings(store.Directory(0, "/local"), "domain");
        Expect.Strings(store.GetPerms(0, "/"), "n0");
        Expect.Strings(store.GetPerms(0, "@releaseDomain"), "n0");
    }

    [Fact]
    public void A_write_below_a_missing_parent_creates_the_parent_with_the_writer_as_owner()
    {
        using var store = new TestStore();
        Expect.Ok(store.Mkdir(0, "/local/domain/1"));
        Expect.Ok(store.SetPerms(0, "/local/domain/1", "b1"));
        Expect.Ok(store.Write(1, "/local/domain/1/a/b/c", "v"));
        Expect.Strings(store.GetPerms(1, "/local/domain/1/a"), "b1");
        Expect.Strings(store.GetPerms(1, "/local/domain/1/a/b"), "b1");
        Expect.Value("", store.Read(1, "/local/domain/1/a/b"));
        Expect.Value("v", store.Read(1, "/local/domain/1/a/b/c"));
        Assert.Equal(4, store.Server.NodesOwnedBy(1));
    }

    [Fact]
    public void New_nodes_inherit_the_parents_permissions_with_the_creator_as_owner()
    {
        using var store = new TestStore();
        Expect.Ok(store.Mkdir(0, "/shared"));
        Expect.Ok(store.SetPerms(0, "/shared", "n0 w1 r2"));
        Expect.Ok(store.Write(1, "/shared/x", "1"));
        Expect.Strings(store.GetPerms(0, "/shared/x"), "n1", "w1", "r2");
        Expect.Ok(store.Write(0, "/shared/y", "0"));
        Expect.Strings(store.GetPerms(0, "/shared/y"), "n0", "w1", "r2");
    }

    [Fact]
    public void Relative_paths_are_below_the_callers_domain_path()
    {
        using var store = new TestStore();
        Expect.Ok(store.Mkdir(0, "/local/domain/2"));
        Expect.Ok(store.SetPerms(0, "/local/domain/2", "n2"));
        Expect.Ok(store.Write(2, "data/x", "42"));
        Expect.Value("42", store.Read(0, "/local/domain/2/data/x"));
        Expect.Value("42", store.Read(2, "data/x"));
        Expect.Strings(store.Directory(2, "data"), "x");
    }

    [Theory]
    [InlineData("")]
    [InlineData("/a/")]
    [InlineData("/a//b")]
    [InlineData("/a b")]
    [InlineData("/a.b")]
    [InlineData("@releaseDomain")]
    [InlineData("/ä")]
    public void Invalid_paths_answer_EINVAL(string path)
    {
        using var store = new TestStore();
        Expect.Error(StoreError.EINVAL, store.Write(0, path, "v"));
        Expect.Error(StoreError.EINVAL, store.Read(0, path));
        Expect.Error(StoreError.EINVAL, store.Mkdir(0, path));
        Expect.Error(StoreError.EINVAL, store.Rm(0, path));
    }

    [Fact]
    public void Paths_longer_than_the_limits_answer_EINVAL()
    {
        using var store = new TestStore();
        string longest = "/" + new string('a', 3071);
        Expect.Error(StoreError.ENOENT, store.Read(0, longest));
        Expect.Error(StoreError.EINVAL, store.Read(0, longest + "a"));
        // path-max for an unprivileged domain: 2048 bytes after /local/domain/<id>/, so 2047 at most.
        Expect.Error(StoreError.EACCES, store.Read(1, new string('b', 2047)));
        Expect.Error(StoreError.EINVAL, store.Read(1, new string('b', 2048)));
    }

    [Fact]
    public void A_payload_without_its_NUL_answers_EINVAL()
    {
        using var store = new TestStore();
        Expect.Error(StoreError.EINVAL, store.Send(0, StoreMessageType.Read, "/tool"u8.ToArray()));
        Expect.Error(StoreError.EINVAL, store.Send(0, StoreMessageType.Read, "/tool\0/x\0"u8.ToArray()));
        Expect.Error(StoreError.EINVAL, store.Send(0, StoreMessageType.Write, "/tool"u8.ToArray()));
        Expect.Error(StoreError.EINVAL, store.Send(0, StoreMessageType.Mkdir, System.Array.Empty<byte>()));
    }

    [Fact]
    public void Reading_a_missing_node_answers_ENOENT()
    {
        using var store = new TestStore();
        Expect.Error(StoreError.ENOENT, store.Read(0, "/nothing"));
        Expect.Error(StoreError.ENOENT, store.Directory(0, "/nothing/below"));
    }

    [Fact]
    public void Mkdir_of_an_existing_node_keeps_its_value()
    {
        using var store = new TestStore();
        Expect.Ok(store.Write(0, "/a", "v"));
        Expect.Ok(store.Mkdir(0, "/a"));
        Expect.Value("v", store.Read(0, "/a"));
    }

    [Fact]
    public void Directory_lists_children_in_byte_order_NUL_separated()
    {
        using var store = new TestStore();
        Expect.Ok(store.Write(0, "/d/b", ""));
        Expect.Ok(store.Write(0, "/d/a", ""));
        Expect.Ok(store.Write(0, "/d/C", ""));
        Expect.Ok(store.Write(0, "/d/a/deep", ""));
        StoreMessage reply = store.Directory(0, "/d");
        Assert.Equal("C\0a\0b\0", reply.Text);
        Assert.Equal("", store.Directory(0, "/d/b").Text);
    }

    [Fact]
    public void Rm_removes_the_subtree_and_is_fine_when_the_node_is_absent_but_its_parent_exists()
    {
        using var store = new TestStore();
        Expect.Ok(store.Write(0, "/r/a/b", "1"));
        Expect.Ok(store.Write(0, "/r/c", "2"));
        int before = store.Server.NodeCount;
        Expect.Ok(store.Rm(0, "/r/a"));
        Assert.Equal(before - 2, store.Server.NodeCount);
        Expect.Error(StoreError.ENOENT, store.Read(0, "/r/a/b"));
        Expect.Strings(store.Directory(0, "/r"), "c");
        Expect.Ok(store.Rm(0, "/r/a"));
        Expect.Error(StoreError.ENOENT, store.Rm(0, "/r/a/b"));
    }

    [Fact]
    public void Removing_the_root_is_refused()
    {
        using var store = new TestStore();
        Expect.Error(StoreError.EINVAL, store.Rm(0, "/"));
        Expect.Strings(store.Directory(0, "/"), "local", "tool");
    }

    [Fact]
    public void Removing_everything_returns_every_byte_and_record()
    {
        using var store = new TestStore();
        int nodes = store.Server.NodeCount;
        int free = store.Server.FreeBytes;
        for (int i = 0; i < 50; i++) Expect.Ok(store.Write(0, "/big/" + i + "/leaf", new string('v', i * 13)));
        Expect.Ok(store.SetPerms(0, "/big/7", "n0 r1 r2 r3"));
        Expect.Ok(store.Rm(0, "/big"));
        Assert.Equal(nodes, store.Server.NodeCount);
        Assert.Equal(free, store.Server.FreeBytes);
    }

    [Fact]
    public void Unknown_and_unsupported_types_answer_ENOSYS_with_the_request_id()
    {
        using var store = new TestStore();
        Expect.Error(StoreError.ENOSYS, store.Send(1, StoreMessageType.Control, TestStore.Payload("check")));
        Expect.Error(StoreError.ENOSYS, store.Send(1, StoreMessageType.WatchEvent, TestStore.Payload("a", "b")));
        Expect.Error(StoreError.ENOSYS, store.Send(1, StoreMessageType.Error, TestStore.Payload("x")));
        Expect.Error(StoreError.ENOSYS, store.Send(1, (StoreMessageType)20, TestStore.Payload("x")));
        Expect.Error(StoreError.ENOSYS, store.Send(1, (StoreMessageType)23, TestStore.Payload("x")));
        Expect.Error(StoreError.ENOSYS, store.Send(1, (StoreMessageType)0xFFFF, TestStore.Payload("x")));
    }

    [Fact]
    public void Get_domain_path_answers_the_local_domain_path_for_any_domid()
    {
        using var store = new TestStore();
        Expect.Strings(store.Send(1, StoreMessageType.GetDomainPath, TestStore.Payload("7")), "/local/domain/7");
        Expect.Strings(store.Send(0, StoreMessageType.GetDomainPath, TestStore.Payload("65535")), "/local/domain/65535");
        Expect.Error(StoreError.EINVAL, store.Send(1, StoreMessageType.GetDomainPath, TestStore.Payload("65536")));
        Expect.Error(StoreError.EINVAL, store.Send(1, StoreMessageType.GetDomainPath, TestStore.Payload("x")));
    }

    [Fact]
    public void Directory_part_pages_a_long_list_of_children()
    {
        using var store = new TestStore();
        var names = new System.Collections.Generic.List<string>();
        for (int i = 0; i < 400; i++)
        {
            string name = "child-with-a-long-name-" + i.ToString("D4");
            names.Add(name);
            Expect.Ok(store.Mkdir(0, "/many/" + name));
        }

        Expect.Error(StoreError.E2BIG, store.Directory(0, "/many"));
        var seen = new System.Collections.Generic.List<string>();
        int offset = 0;
        string generation = null;
        while (true)
        {
            StoreMessage part = store.Send(0, StoreMessageType.DirectoryPart, TestStore.Payload("/many", offset.ToString()));
            string[] strings = part.Text.Split('\0');
            generation ??= strings[0];
            Assert.Equal(generation, strings[0]);
            bool done = part.Text.EndsWith("\0\0", System.StringComparison.Ordinal);
            for (int i = 1; i < strings.Length; i++)
            {
                if (strings[i].Length > 0) seen.Add(strings[i]);
            }

            offset = seen.Count == 0 ? 0 : offset + part.Payload.Length - strings[0].Length - 1;
            if (done) break;
        }

        names.Sort(string.CompareOrdinal);
        Assert.Equal(names, seen);
    }

    [Fact]
    public void The_direct_calls_act_as_the_privileged_domain()
    {
        using var store = new TestStore();
        Assert.Equal(StoreError.None, store.Server.Write("/x/y"u8, "v"u8));
        Assert.Equal(StoreError.None, store.Server.SetPermissions("/x/y"u8, "n1\0r2\0"u8));
        var buffer = new byte[8];
        Assert.Equal(StoreError.None, store.Server.Read("/x/y"u8, buffer, out int length));
        Assert.Equal("v", System.Text.Encoding.ASCII.GetString(buffer, 0, length));
        Assert.Equal(StoreError.EINVAL, store.Server.Write("x\0"u8, "v"u8));
        Assert.Equal(StoreError.None, store.Server.Remove("/x"u8));
        Assert.Equal(StoreError.ENOENT, store.Server.Read("/x/y"u8, buffer, out _));
    }
}
