#include <lamina/intrusive_list.h>

#include <gtest/gtest.h>

#include <list>
#include <random>
#include <vector>

namespace {

struct Item {
    int value = 0;
    lamina::ListNode run;
    lamina::ListNode wait;
};

using RunList = lamina::IntrusiveList<Item, &Item::run>;
using WaitList = lamina::IntrusiveList<Item, &Item::wait>;

std::vector<int> values(const RunList& l) {
    std::vector<int> v;
    for (Item* i : l) v.push_back(i->value);
    return v;
}

TEST(IntrusiveList, FifoOrder) {
    Item items[4];
    RunList l;
    EXPECT_TRUE(l.empty());
    EXPECT_EQ(l.pop_front(), nullptr);
    for (int i = 0; i < 4; i++) {
        items[i].value = i;
        l.push_back(&items[i]);
    }
    EXPECT_EQ(l.size(), 4u);
    EXPECT_EQ(values(l), (std::vector<int>{0, 1, 2, 3}));
    EXPECT_EQ(l.front()->value, 0);
    EXPECT_EQ(l.back()->value, 3);
    for (int i = 0; i < 4; i++) EXPECT_EQ(l.pop_front()->value, i);
    EXPECT_TRUE(l.empty());
    EXPECT_EQ(l.back(), nullptr);
}

TEST(IntrusiveList, RemoveFromAnywhereAndRelink) {
    Item items[5];
    RunList l;
    for (int i = 0; i < 5; i++) {
        items[i].value = i;
        l.push_back(&items[i]);
    }
    EXPECT_TRUE(l.remove(&items[2]));   // middle
    EXPECT_TRUE(l.remove(&items[0]));   // head
    EXPECT_TRUE(l.remove(&items[4]));   // tail
    EXPECT_FALSE(l.remove(&items[4]));  // not linked any more
    EXPECT_FALSE(RunList::is_linked(&items[0]));
    EXPECT_EQ(values(l), (std::vector<int>{1, 3}));
    l.push_front(&items[4]);
    l.insert_before(&items[3], &items[0]);
    l.insert_before(nullptr, &items[2]);
    EXPECT_EQ(values(l), (std::vector<int>{4, 1, 0, 3, 2}));
    EXPECT_EQ(l.size(), 5u);
}

TEST(IntrusiveList, ElementOnTwoListsThroughTwoMembers) {
    Item items[3];
    RunList run;
    WaitList wait;
    for (int i = 0; i < 3; i++) {
        items[i].value = i;
        run.push_back(&items[i]);
        wait.push_front(&items[i]);
    }
    EXPECT_EQ(wait.front()->value, 2);
    run.remove(&items[1]);
    EXPECT_TRUE(WaitList::is_linked(&items[1]));
    EXPECT_EQ(wait.size(), 3u);
    EXPECT_EQ(run.size(), 2u);
}

TEST(IntrusiveList, MatchesStdListUnderRandomOperations) {
    std::mt19937 rng(42);
    std::vector<Item> items(64);
    for (int i = 0; i < 64; i++) items[i].value = i;
    RunList l;
    std::list<int> model;
    for (int step = 0; step < 20000; step++) {
        Item& it = items[rng() % items.size()];
        switch (rng() % 4) {
            case 0:
                if (!RunList::is_linked(&it)) {
                    l.push_back(&it);
                    model.push_back(it.value);
                }
                break;
            case 1:
                if (!RunList::is_linked(&it)) {
                    l.push_front(&it);
                    model.push_front(it.value);
                }
                break;
            case 2:
                if (l.remove(&it)) model.remove(it.value);
                break;
            case 3:
                if (Item* f = l.pop_front()) {
                    ASSERT_EQ(f->value, model.front());
                    model.pop_front();
                }
                break;
        }
        ASSERT_EQ(l.size(), model.size());
    }
    EXPECT_EQ(values(l), std::vector<int>(model.begin(), model.end()));
}

}  // namespace
