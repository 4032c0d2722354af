#!/bin/sh
echo "Node A post script ($1)" >> post.out
