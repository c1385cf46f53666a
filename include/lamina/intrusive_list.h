// Doubly linked intrusive lists: the links live in the element (a ListNode member), so putting
// an element on a list never allocates and removing it is O(1). An element may be on several
// lists at once through several ListNode members, on at most one list per member.
//
// ListChain is the untyped core (it works on nodes, so it can be declared where the element type
// is still incomplete); IntrusiveList<T, &T::member> is the typed list built on it.
//
// Lists do not own their elements and do no locking: whoever protects the list protects the
// nodes on it.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace lamina {

struct ListNode {
    ListNode* prev = nullptr;
    ListNode* next = nullptr;
    bool linked = false;
};

class ListChain {
public:
    constexpr ListChain() = default;
    ListChain(const ListChain&) = delete;
    ListChain& operator=(const ListChain&) = delete;

    bool empty() const { return head_ == nullptr; }
    size_t size() const { return size_; }
    // For statistics read without the list's lock.
    size_t size_relaxed() const { return __atomic_load_n(&size_, __ATOMIC_RELAXED); }
    ListNode* front() const { return head_; }
    ListNode* back() const { return tail_; }

    // n must not be linked.
    void push_back(ListNode* n) { insert_between(n, tail_, nullptr); }
    void push_front(ListNode* n) { insert_between(n, nullptr, head_); }
    // Inserts n before position (at the end when position is nullptr).
    void insert_before(ListNode* position, ListNode* n) {
        if (!position) return push_back(n);
        insert_between(n, position->prev, position);
    }
    ListNode* pop_front() {
        ListNode* n = head_;
        if (n) unlink(n);
        return n;
    }
    // Removes n if it is linked; a linked n must be on this chain. Returns whether it was.
    bool remove(ListNode* n) {
        if (!n->linked) return false;
        unlink(n);
        return true;
    }

private:
    void insert_between(ListNode* n, ListNode* prev, ListNode* next) {
        n->prev = prev;
        n->next = next;
        n->linked = true;
        if (prev)
            prev->next = n;
        else
            head_ = n;
        if (next)
            next->prev = n;
        else
            tail_ = n;
        __atomic_store_n(&size_, size_ + 1, __ATOMIC_RELAXED);
    }

    void unlink(ListNode* n) {
        if (n->prev)
            n->prev->next = n->next;
        else
            head_ = n->next;
        if (n->next)
            n->next->prev = n->prev;
        else
            tail_ = n->prev;
        n->prev = n->next = nullptr;
        n->linked = false;
        __atomic_store_n(&size_, size_ - 1, __ATOMIC_RELAXED);
    }

    ListNode* head_ = nullptr;
    ListNode* tail_ = nullptr;
    size_t size_ = 0;
};

// Converts between an element and its ListNode member.
template <typename T, ListNode T::*Link>
struct ListLink {
    static ListNode* node(T* item) { return &(item->*Link); }
    static T* owner(ListNode* n) {
        if (!n) return nullptr;
        // The member's offset, computed on an aligned non-null address where no T lives: only
        // the address arithmetic is used.
        constexpr uintptr_t probe = 4096;
        auto offset = reinterpret_cast<uintptr_t>(&(reinterpret_cast<T*>(probe)->*Link)) - probe;
        return reinterpret_cast<T*>(reinterpret_cast<char*>(n) - offset);
    }
};

template <typename T, ListNode T::*Link>
class IntrusiveList {
    using L = ListLink<T, Link>;

public:
    constexpr IntrusiveList() = default;

    bool empty() const { return chain_.empty(); }
    size_t size() const { return chain_.size(); }
    T* front() const { return L::owner(chain_.front()); }
    T* back() const { return L::owner(chain_.back()); }
    void push_back(T* item) { chain_.push_back(L::node(item)); }
    void push_front(T* item) { chain_.push_front(L::node(item)); }
    void insert_before(T* position, T* item) {
        chain_.insert_before(position ? L::node(position) : nullptr, L::node(item));
    }
    T* pop_front() { return L::owner(chain_.pop_front()); }
    bool remove(T* item) { return chain_.remove(L::node(item)); }
    static bool is_linked(T* item) { return L::node(item)->linked; }

    class Iterator {
    public:
        explicit Iterator(ListNode* n) : n_(n) {}
        T* operator*() const { return L::owner(n_); }
        Iterator& operator++() {
            n_ = n_->next;
            return *this;
        }
        bool operator!=(const Iterator& o) const { return n_ != o.n_; }

    private:
        ListNode* n_;
    };
    // The loop body must not remove the current element.
    Iterator begin() const { return Iterator(chain_.front()); }
    Iterator end() const { return Iterator(nullptr); }

private:
    ListChain chain_;
};

}  // namespace lamina
