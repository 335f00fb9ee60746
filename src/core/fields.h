// Fields: a record's values by column name, kept in name order.
//
// It reads like the std::map it replaces (find, operator[], emplace,
// emplace_hint, erase, iteration in name order), but stores one sorted vector:
// a record of n columns costs one allocation, not n tree nodes. The record
// engine moves millions of records a minute, and the tree's allocations and
// frees were the largest cost of a database snapshot (bench/README.md).
// Lookups are binary searches; inserting out of order shifts the tail, which
// for the few dozen columns of a record costs less than a tree node. A source
// that adds columns in name order (emplace_hint at end()) only appends.
//
// Thread-safety: a value; const methods may be called from several threads.
#pragma once

#include <algorithm>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/value.h"

namespace megasync {

class Fields {
 public:
  using key_type = std::string;
  using mapped_type = Value;
  using value_type = std::pair<std::string, Value>;
  using iterator = std::vector<value_type>::iterator;
  using const_iterator = std::vector<value_type>::const_iterator;
  using size_type = std::size_t;

  Fields() = default;
  // As a map would: sorted by name, the first of equal names kept.
  Fields(std::initializer_list<value_type> init) : Fields(init.begin(), init.end()) {}
  template <typename It>
  Fields(It first, It last) : items_(first, last) {
    std::stable_sort(items_.begin(), items_.end(),
                     [](const value_type& a, const value_type& b) { return a.first < b.first; });
    items_.erase(
        std::unique(items_.begin(), items_.end(),
                    [](const value_type& a, const value_type& b) { return a.first == b.first; }),
        items_.end());
  }

  iterator begin() { return items_.begin(); }
  iterator end() { return items_.end(); }
  const_iterator begin() const { return items_.begin(); }
  const_iterator end() const { return items_.end(); }
  const_iterator cbegin() const { return items_.begin(); }
  const_iterator cend() const { return items_.end(); }

  bool empty() const { return items_.empty(); }
  size_type size() const { return items_.size(); }
  void clear() { items_.clear(); }
  void reserve(size_type n) { items_.reserve(n); }

  iterator find(std::string_view name) {
    iterator at = lower_bound(name);
    return at != items_.end() && at->first == name ? at : items_.end();
  }
  const_iterator find(std::string_view name) const {
    const_iterator at = lower_bound(name);
    return at != items_.end() && at->first == name ? at : items_.end();
  }
  bool contains(std::string_view name) const { return find(name) != end(); }
  size_type count(std::string_view name) const { return contains(name) ? 1 : 0; }

  Value& at(std::string_view name) {
    iterator at = find(name);
    if (at == items_.end()) {
      throw std::out_of_range("Fields::at: no field " + std::string(name));
    }
    return at->second;
  }
  const Value& at(std::string_view name) const {
    const_iterator at = find(name);
    if (at == items_.end()) {
      throw std::out_of_range("Fields::at: no field " + std::string(name));
    }
    return at->second;
  }

  // The field's value, a null one inserted when missing.
  Value& operator[](std::string_view name) {
    return emplace(std::string(name), Value()).first->second;
  }

  // Inserts when the name is new; otherwise leaves the field as it is.
  // `name` is anything a std::string is made from (string, string_view, char*).
  template <typename Name, typename V = Value>
  std::pair<iterator, bool> emplace(Name&& name, V&& value) {
    const std::string_view view(name);
    iterator at = place(view);
    if (at != items_.end() && at->first == view) {
      return {at, false};
    }
    return {
        items_.emplace(at, std::string(std::forward<Name>(name)), Value(std::forward<V>(value))),
        true};
  }
  std::pair<iterator, bool> insert(value_type item) {
    return emplace(std::move(item.first), std::move(item.second));
  }
  // The hint is only used when it is end() and the name sorts last: a source
  // that adds fields in name order appends without a search.
  template <typename Name, typename V = Value>
  iterator emplace_hint(const_iterator hint, Name&& name, V&& value) {
    if (hint == items_.end() && (items_.empty() || items_.back().first < std::string_view(name))) {
      items_.emplace_back(std::string(std::forward<Name>(name)), Value(std::forward<V>(value)));
      return items_.end() - 1;
    }
    return emplace(std::forward<Name>(name), std::forward<V>(value)).first;
  }
  template <typename Name>
  std::pair<iterator, bool> insert_or_assign(Name&& name, Value value) {
    auto [at, inserted] = emplace(std::forward<Name>(name), Value());
    at->second = std::move(value);
    return {at, inserted};
  }

  size_type erase(std::string_view name) {
    iterator at = find(name);
    if (at == items_.end()) {
      return 0;
    }
    items_.erase(at);
    return 1;
  }
  iterator erase(const_iterator at) { return items_.erase(at); }

  bool operator==(const Fields&) const = default;

  // Removes every field `pred(field)` holds for (as std::erase_if does for a map).
  template <typename Pred>
  friend size_type erase_if(Fields& fields, Pred pred) {
    return std::erase_if(fields.items_, pred);
  }

 private:
  // The first field whose name is not less than `name`.
  iterator lower_bound(std::string_view name) {
    return std::lower_bound(items_.begin(), items_.end(), name,
                            [](const value_type& a, std::string_view b) { return a.first < b; });
  }
  const_iterator lower_bound(std::string_view name) const {
    return std::lower_bound(items_.begin(), items_.end(), name,
                            [](const value_type& a, std::string_view b) { return a.first < b; });
  }
  // Where `name` belongs; appending is checked first (the common case).
  iterator place(std::string_view name) {
    if (items_.empty() || items_.back().first < name) {
      return items_.end();
    }
    return lower_bound(name);
  }

  std::vector<value_type> items_;
};

}  // namespace megasync
