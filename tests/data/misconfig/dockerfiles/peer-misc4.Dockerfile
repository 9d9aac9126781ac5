FROM x:1
RUN dnf upgrade -y
RUN dnf update -y
RUN dnf remove -y x
RUN microdnf update -y
RUN dnf install -y a-1 && dnf clean all && dnf upgrade -y
RUN yum update -y
RUN dnf -y makecache
RUN dnf -y groupinstall x
