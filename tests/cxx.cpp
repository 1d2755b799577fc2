// C++ under brisk: new/delete, new[]/delete[], the standard containers, shared_ptr, aligned new,
// std::bad_alloc on a failed new, and C++ thread_local destructors that free after a thread's
// allocations. Every part checks its contents and that brisk counted the allocations.
#include "common.h"

#include <atomic>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

static size_t allocations() { return t_stats().allocations; }

#define SERVED(what, ...)                                                                        \
    do {                                                                                         \
        size_t a0_ = allocations();                                                              \
        __VA_ARGS__;                                                                             \
        size_t a1_ = allocations();                                                              \
        CHECK(a1_ > a0_, "%s: brisk counted no allocation", what);                               \
    } while (0)

struct alignas(64) Line {
    unsigned char bytes[64];
    Line() { memset(bytes, 0x64, sizeof bytes); }
};

struct alignas(4096) PageThing {
    long v[8];
};

struct Node {
    int key;
    std::string name;
    std::vector<int> values;
};

static void scalar_and_array_new()
{
    int *ip = nullptr;
    SERVED("new int", ip = new int(42));
    CHECK(*ip == 42);
    CHECK(brisk_malloc_usable_size(ip) >= sizeof(int), "new did not come from brisk");
    delete ip;
    std::vector<long *> arrays;
    for (size_t n = 1; n < 300000; n = n * 3 + 1) {
        long *a = nullptr;
        SERVED("new long[]", a = new long[n]);
        for (size_t i = 0; i < n; i++)
            a[i] = (long)(i * 3);
        arrays.push_back(a);
    }
    size_t n = 1;
    for (long *a : arrays) {
        for (size_t i = 0; i < n; i++)
            CHECK(a[i] == (long)(i * 3), "new[] block of %zu changed", n);
        delete[] a;
        n = n * 3 + 1;
    }
    Node *nodes = nullptr;
    SERVED("new Node[]", nodes = new Node[100]);
    for (int i = 0; i < 100; i++) {
        nodes[i].key = i;
        nodes[i].name = "node number " + std::to_string(i) + " with a name too long for SSO";
        nodes[i].values.assign((size_t)i, i);
    }
    for (int i = 0; i < 100; i++)
        CHECK(nodes[i].values.size() == (size_t)i && nodes[i].name.find(std::to_string(i)) != std::string::npos);
    delete[] nodes;
}

static void aligned_new()
{
    std::vector<Line *> lines;
    for (int i = 0; i < 1000; i++) {
        Line *l = nullptr;
        SERVED("new alignas(64)", l = new Line);
        CHECK(is_aligned(l, 64), "new Line (alignas 64) = %p", (void *)l);
        lines.push_back(l);
    }
    for (Line *l : lines) {
        for (unsigned char b : l->bytes)
            CHECK(b == 0x64);
        delete l;
    }
    Line *arr = nullptr;
    SERVED("new alignas(64)[]", arr = new Line[333]);
    CHECK(is_aligned(arr, 64));
    for (int i = 0; i < 333; i++)
        CHECK(arr[i].bytes[63] == 0x64);
    delete[] arr;
    std::vector<PageThing *> pages;
    for (int i = 0; i < 50; i++) {
        PageThing *p = nullptr;
        SERVED("new alignas(4096)", p = new PageThing());
        CHECK(is_aligned(p, 4096), "new PageThing (alignas 4096) = %p", (void *)p);
        p->v[7] = i;
        pages.push_back(p);
    }
    for (int i = 0; i < 50; i++) {
        CHECK(pages[(size_t)i]->v[7] == i);
        delete pages[(size_t)i];
    }
    std::vector<Line> vec(1000);
    CHECK(is_aligned(vec.data(), 64));
    // explicit aligned operator new / delete with sizes
    void *raw = ::operator new(1000, std::align_val_t(256));
    CHECK(is_aligned(raw, 256));
    memset(raw, 1, 1000);
    ::operator delete(raw, 1000, std::align_val_t(256));
}

static void containers()
{
    std::vector<std::string> words;
    SERVED("vector<string>", {
        for (int i = 0; i < 20000; i++)
            words.push_back("word-" + std::to_string(i * 7919 % 20000) + std::string((size_t)(i % 50), 'x'));
    });
    std::map<std::string, int> m;
    std::unordered_map<int, std::string> um;
    SERVED("map", {
        for (size_t i = 0; i < words.size(); i++)
            m[words[i]] = (int)i;
    });
    SERVED("unordered_map", {
        for (size_t i = 0; i < words.size(); i++)
            um[(int)i] = words[i];
    });
    CHECK(m.size() == 20000 && um.size() == 20000);
    for (size_t i = 0; i < words.size(); i++) {
        CHECK(m.at(words[i]) == (int)i);
        CHECK(um.at((int)i) == words[i]);
    }
    size_t erased = 0;
    for (auto it = m.begin(); it != m.end();) {
        if (it->second % 3 == 0) {
            it = m.erase(it);
            erased++;
        } else {
            ++it;
        }
    }
    CHECK(m.size() == 20000 - erased);
    std::string big;
    SERVED("string", {
        for (int i = 0; i < 100000; i++)
            big += (char)('a' + i % 26);
    });
    for (size_t i = 0; i < big.size(); i++)
        CHECK(big[i] == (char)('a' + i % 26));
    std::vector<int> v;
    for (int i = 0; i < 1000000; i++)
        v.push_back(i);
    v.shrink_to_fit();
    long long sum = 0;
    for (int x : v)
        sum += x;
    CHECK(sum == 999999LL * 1000000 / 2);
}

static void shared_pointers()
{
    std::vector<std::shared_ptr<Node>> owners;
    std::vector<std::weak_ptr<Node>> watchers;
    SERVED("make_shared", {
        for (int i = 0; i < 5000; i++) {
            auto p = std::make_shared<Node>();
            p->key = i;
            p->name = std::string((size_t)(i % 100), 'n');
            owners.push_back(p);
            watchers.push_back(p);
        }
    });
    std::shared_ptr<Node> copy = owners[1234];
    owners.clear();
    CHECK(copy->key == 1234 && copy->name.size() == 34);
    for (size_t i = 0; i < watchers.size(); i++)
        CHECK(watchers[i].expired() == (i != 1234), "weak_ptr %zu", i);
    std::shared_ptr<int> arr(new int[10], std::default_delete<int[]>());
    arr.get()[9] = 9;
    std::unique_ptr<Line> up = std::make_unique<Line>();
    CHECK(is_aligned(up.get(), 64));
}

static void bad_alloc()
{
    bool thrown = false;
    try {
        size_t n = opaque_size(SIZE_MAX / 4);
        char *p = static_cast<char *>(opaque_ptr(new char[n]));
        p[0] = 1;
        delete[] p;
    } catch (const std::bad_alloc &) {
        thrown = true;
    }
    CHECK(thrown, "new char[SIZE_MAX/4] did not throw std::bad_alloc");
    char *q = static_cast<char *>(opaque_ptr(new (std::nothrow) char[opaque_size((size_t)1 << 62)]));
    CHECK(q == nullptr, "nothrow new of 4 EiB returned non-null");
}

// ---- thread_local destructors -----------------------------------------------------------

static std::atomic<int> tl_destroyed{0};

struct ThreadCache {
    std::vector<std::string> items;
    std::map<int, std::vector<char>> blobs;
    ~ThreadCache()
    {
        // runs at thread exit, after the thread's own work, possibly after brisk's hand-off
        for (size_t i = 0; i < items.size(); i++)
            CHECK(items[i] == std::to_string(i) + std::string(40, 'p'));
        for (auto &kv : blobs)
            CHECK(kv.second.size() == (size_t)kv.first * 100);
        items.clear();
        items.shrink_to_fit();
        blobs.clear();
        std::string tmp(1000, 'z'); // allocate from a thread_local destructor too
        CHECK(tmp.size() == 1000);
        tl_destroyed++;
    }
};

static thread_local ThreadCache cache;

static void thread_local_destructors()
{
    const int T = 40;
    for (int round = 0; round < T / 4; round++) {
        std::vector<std::thread> ts;
        for (int t = 0; t < 4; t++) {
            ts.emplace_back([] {
                std::vector<int *> scratch;
                for (int i = 0; i < 500; i++)
                    scratch.push_back(new int(i));
                for (int i = 0; i < 300; i++)
                    cache.items.push_back(std::to_string(i) + std::string(40, 'p'));
                for (int i = 1; i < 50; i++)
                    cache.blobs[i] = std::vector<char>((size_t)i * 100, 'b');
                for (int *p : scratch)
                    delete p;
            });
        }
        for (auto &t : ts)
            t.join();
    }
    CHECK(tl_destroyed.load() == T, "%d thread_local destructors ran, expected %d",
          tl_destroyed.load(), T);
}

int main()
{
    scalar_and_array_new();
    t_log("ok   new/delete, new[]/delete[]\n");
    aligned_new();
    t_log("ok   aligned new (alignas 64, 4096, align_val_t)\n");
    containers();
    t_log("ok   vector, string, map, unordered_map\n");
    shared_pointers();
    t_log("ok   shared_ptr, weak_ptr, unique_ptr\n");
    bad_alloc();
    t_log("ok   std::bad_alloc\n");
    thread_local_destructors();
    t_log("ok   thread_local destructors\n");
    t_log("cxx: passed\n");
    return 0;
}
