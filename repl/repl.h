/* repl/repl.h: replication, the way Apache Kafka did it with ZooKeeper.
 *
 * Each partition has one leader, which alone takes produce and consumer
 * fetch; followers pull from it with the Fetch API; the in-sync replica set
 * (ISR) decides what is committed; a controller elects leaders from the ISR.
 * Cluster metadata lives in ZooKeeper under Kafka's znode layout.
 * See docs/replication.md.
 *
 * Nothing is public yet: the deterministic core (znode codecs, leader and
 * follower state, controller decisions) is private to this folder
 * (repl/core_int.h), and so is the ZooKeeper edge (repl/zk_int.h: one
 * asynchronous session interface, over libzookeeper_mt in zk.c and in memory
 * in zkmem.c), until the cluster interface lands. */
#ifndef WEIR_REPL_H
#define WEIR_REPL_H

#include "base/base.h"

#endif
